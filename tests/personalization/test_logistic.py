"""The NumPy logistic regression is River's scaled logistic regression, update for update, and
its batch path is its one-by-one path; the fast timestamp reader is the contract's parser."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta

import pytest

from personalization.features import NAMES
from personalization.intent import LEARNING_RATE, IntentModel, river_logreg, scaled_logreg
from personalization.logistic import Z_CLIP, ScaledLogistic
from personalization.observation import event_time
from tracker.contract import parse_timestamp


def fresh(clip: float | None = None) -> ScaledLogistic:
    """River's arithmetic (no cut of scaled values) unless ``clip`` is given."""
    return scaled_logreg(clip)


def example(rng: random.Random) -> tuple[list[float], bool]:
    """Sparse features like a profile's: some always 0, some constant, some varied."""
    x = [0.0] * len(NAMES)
    for i in range(len(NAMES)):
        if i % 7 == 3:
            x[i] = 0.6931471805599453  # a constant feature: zero variance, scaled to 0
        elif i % 5 and rng.random() < 0.4:
            x[i] = rng.random() * 4
    return x, rng.random() < 0.05 + 0.2 * x[1]


def test_predictions_equal_rivers_pipeline_through_a_stream() -> None:
    rng = random.Random(11)
    ours, rivers = fresh(), river_logreg()
    for step in range(3000):
        x, y = example(rng)
        as_dict = dict(zip(NAMES, x, strict=True))
        assert ours.predict(x) == pytest.approx(rivers.predict_proba_one(as_dict)[True],
                                                abs=1e-9), step
        ours.learn(x, y)
        rivers.learn_one(as_dict, y)


@pytest.mark.parametrize("clip", [None, 2.0])  # 2: one value in 13 is cut
def test_a_batch_learns_exactly_what_one_by_one_learns(clip: float | None) -> None:
    rng = random.Random(12)
    one, batch = fresh(clip), fresh(clip)
    for _ in range(300):
        xs, ys = zip(*(example(rng) for _ in range(rng.randint(1, 30))), strict=True)
        for x, y in zip(xs, ys, strict=True):
            one.learn(x, y)
        batch.learn_many(list(xs), list(ys))
        probe = example(rng)[0]
        assert batch.predict(probe) == pytest.approx(one.predict(probe), abs=1e-12)
    assert batch.n == one.n
    assert list(batch.inv_std == 0) == list(one.inv_std == 0)  # same features ignored


def rare_then_wild(model: ScaledLogistic) -> list[float]:
    """Teach ``model`` a feature seen only as tiny values (minutes since a purchase, in days:
    standard deviation ~3e-4); return an example where it is 0.5, ~1,500 deviations out."""
    rng = random.Random(14)
    j = NAMES.index("h_days_since_purchase")
    for _ in range(2000):
        x, y = example(rng)
        x[j] = rng.random() * 1e-3 if rng.random() < 0.1 else 0.0
        model.learn(x, y)
    wild, _ = example(rng)
    wild[j] = 0.5
    return wild


def test_a_wild_scaled_value_is_cut_so_one_example_cannot_swamp_the_model() -> None:
    """A demo run once served a logit of 15,761 this way (and its calibration layer learned
    from it): the model is scored on the example before it has learned it."""
    j = NAMES.index("h_days_since_purchase")
    uncut, cut = fresh(), fresh(clip=10.0)
    wild = rare_then_wild(uncut)
    assert rare_then_wild(cut) == wild
    # River's arithmetic: that one feature's scaled value is ~1,500 and decides the logit alone
    assert abs(uncut.raw(wild) - uncut.intercept) > 100 * abs(uncut.weights[j])
    assert abs(uncut._scaled(wild)[j]) > 1000
    # cut at 10 deviations, and so is the step it takes when it learns it
    assert abs(cut._scaled(wild)[j]) == 10.0
    weight = cut.weights[j]
    cut.learn(wild, False)
    assert abs(cut.weights[j] - weight) <= LEARNING_RATE * 10.0


def test_a_model_pickled_before_the_cut_gets_it_and_a_bad_cut_is_refused() -> None:
    model = fresh(clip=10.0)
    del model.__dict__["clip"]
    assert pickle.loads(pickle.dumps(model)).clip == Z_CLIP
    with pytest.raises(ValueError, match="scaled-value cut"):
        fresh(clip=0.0)


def test_pickle_round_trip_keeps_every_prediction() -> None:
    rng = random.Random(13)
    model = fresh()
    model.learn_many(*map(list, zip(*(example(rng) for _ in range(50)), strict=True)))
    back = pickle.loads(pickle.dumps(model))
    for _ in range(20):
        x = example(rng)[0]
        assert back.predict(x) == model.predict(x)


def test_intent_model_knows_its_feature_set() -> None:
    model = IntentModel()
    assert model.fits(NAMES) and not model.fits((*NAMES, "a_new_feature"))
    del model.__dict__["names"]  # a checkpoint from before models knew theirs
    assert not pickle.loads(pickle.dumps(model)).fits(NAMES)


@pytest.mark.parametrize("text", [
    "2026-11-02T19:43:56.179Z", "2026-11-02t19:43:56.179z", "2024-02-29T23:59:59.999Z",
    "2026-02-29T10:00:00.000Z", "2026-11-02T24:00:00.000Z", "2026-11-02T19:60:56.179Z",
    "2026-11-02T19:43:60.179Z", "2026-11-02T19:4\u0663:56.179Z", "2026-11-02T19:43:56.17 Z",
    "2026-11-02 19:43:56.179Z", "2026-11-02T19:43:56Z", "2026-11-02T19:43:56.179+02:00",
    "xxxxxxxxxxxxxxxxxxxxxxxx", "",
])
def test_event_time_reads_what_the_contract_parser_reads(text: str) -> None:
    moment = parse_timestamp(text)
    assert event_time(text) == (None if moment is None else moment.timestamp())


def test_event_time_agrees_on_many_canonical_timestamps() -> None:
    rng = random.Random(14)
    start = datetime(1990, 1, 1, tzinfo=UTC)
    for _ in range(5000):
        moment = start + timedelta(milliseconds=rng.randrange(50 * 365 * 86_400_000))
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
        assert event_time(text) == moment.timestamp()
    assert event_time(None) is None and event_time(5) is None


def test_raw_many_is_raw_row_by_row() -> None:
    rng = random.Random(13)
    model = fresh()
    for _ in range(300):
        model.learn(*example(rng))
    xs = [example(rng)[0] for _ in range(25)]
    assert list(model.raw_many(xs)) == pytest.approx([model.raw(x) for x in xs], abs=1e-12)
