"""Funnels from a YAML file (:mod:`.funnel_spec`): reach, conversion, drop-off and time per step.

How a funnel is matched, with Spark higher-order functions (no Python UDF):

- the unit is a session (``within: session``) or a visitor (``within: Nd``);
- a unit's matching events, in time order, are walked greedily from a step-1 event: each next
  step is the first later event matching it (and, for ``Nd``, no later than N days after the
  step-1 event). Greedy-earliest reaches the furthest step possible from a given start;
- sessions are walked from their first step-1 event; visitors from every step-1 event, keeping
  the furthest reach (the earliest start among equals), so a late start that converts within
  the window is not hidden by an early one that did not;
- time between steps is measured on that walk; its median is reported;
- a unit is broken down by the session it entered the funnel in (device, country, traffic
  source, campaign);
- table ``funnel_people`` counts the people behind the units reaching each step: the entry
  session's user where known, its visitor otherwise (units are still walked per session or
  per visitor id, so a funnel begun on a phone and finished on a laptop is two walks).
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from stream_jobs.reports.funnel_spec import Funnel, Step, load_funnels
from stream_jobs.reports.measures import (
    COOKIELESS_NOTE,
    PEOPLE_NOTE,
    none_label,
    pct,
    people_measures,
)
from stream_jobs.reports.model import Chart, Report, ReportInputs, Table

NAME = "funnels"
TITLE = "Funnels"
TOP_VALUES = 10
DIMENSIONS = {"device": "device", "country": "country", "source": "referrer_class",
              "campaign": "utm_campaign"}


def step_predicate(step: Step) -> Column:
    """All of a step's conditions on one event row."""
    checks: list[Column] = []
    for key, value in step.conditions:
        if key == "event_type":
            checks.append(F.col("event_type").isin(*value))
        elif key == "path":
            checks.append(F.col("page") == value)
        elif key == "path_prefix":
            checks.append(F.startswith(F.col("page"), F.lit(value)))
        elif key == "url_contains":
            checks.append(F.contains(F.col("url"), F.lit(value)))
        elif key == "url_regex":
            checks.append(F.col("url").rlike(value))
        elif key == "event_name":
            checks.append(F.col("name") == value)
        elif key in ("sku", "referrer_class", "utm_campaign"):
            checks.append(F.col(key) == value)
        else:  # funnel_spec rejects unknown keys; this guards a new key added there only
            raise ValueError(f"no predicate for step key {key!r}")
    return F.coalesce(reduce(lambda a, b: a & b, checks), F.lit(False))


def best_walks(events: DataFrame, funnel: Funnel) -> DataFrame:
    """One row per unit that reached step 1: ``visitor_id``, ``reached`` (steps), ``times`` and
    ``sessions`` (of each reached step, in order)."""
    n = len(funnel.steps)
    mask = reduce(lambda a, b: a + b, [
        F.when(step_predicate(step), F.lit(1 << i)).otherwise(F.lit(0))
        for i, step in enumerate(funnel.steps)
    ])
    key = "session_id" if funnel.within_days is None else "visitor_id"
    walks = (events.withColumn("mask", mask).where(F.col("mask") > 0)
             .groupBy(key, *(["visitor_id"] if key != "visitor_id" else []))
             .agg(F.array_sort(F.collect_list(F.struct("ts", "event_id", "mask",
                                                       "session_id"))).alias("evs")))
    in_window = ("true" if funnel.within_days is None else
                 f"unix_micros(e.ts) - unix_micros(acc.start) <= "
                 f"{funnel.within_days * 86_400 * 1_000_000}L")
    starts = "filter(sequence(1, size(evs)), i -> (evs[i - 1].mask & 1) != 0)"
    if funnel.within_days is None:  # no window: the first start reaches furthest
        starts = f"slice({starts}, 1, 1)"
    walk = f"""
        transform({starts}, i -> aggregate(
            slice(evs, i + 1, size(evs)),
            named_struct('step', 1, 'start', evs[i - 1].ts,
                         'times', array(evs[i - 1].ts), 'sessions', array(evs[i - 1].session_id)),
            (acc, e) -> IF(acc.step < {n} AND (e.mask & shiftleft(1, acc.step)) != 0
                           AND {in_window},
                           named_struct('step', acc.step + 1, 'start', acc.start,
                                        'times', concat(acc.times, array(e.ts)),
                                        'sessions', concat(acc.sessions, array(e.session_id))),
                           acc)))
    """
    best = "aggregate(walks, try_element_at(walks, 1), (b, w) -> IF(w.step > b.step, w, b))"
    return (walks.withColumn("walks", F.expr(walk))
            .withColumn("best", F.expr(best))
            .where(F.col("best").isNotNull())
            .select("visitor_id", F.col("best.step").alias("reached"),
                    F.col("best.times").alias("times"), F.col("best.sessions").alias("sessions")))


def _per_step(walks: DataFrame) -> DataFrame:
    """One row per (unit, step reached): the step number, seconds since the previous step and
    the distinct sessions the unit has used up to that step."""
    return walks.select(
        "visitor_id", "sessions", "times",
        F.posexplode("times").alias("k0", "t"),
    ).select(
        "visitor_id",
        (F.col("k0") + 1).alias("step"),
        F.when(F.col("k0") > 0,
               (F.unix_micros("t") - F.unix_micros(F.try_element_at("times", F.col("k0"))))
               / 1_000_000.0).alias("delta_s"),
        F.size(F.array_distinct(F.slice("sessions", 1, F.col("k0") + 1))).alias("sessions_used"),
        F.col("sessions")[0].alias("entry_session"),
    )


def step_table(spark, funnel: Funnel, walks: DataFrame, order: int) -> DataFrame:
    """The funnel's steps with visitors, sessions, conversions, drop-off and median time."""
    per_step = _per_step(walks)
    sessions = (F.count(F.lit(1)) if funnel.within_days is None
                else F.sum("sessions_used")).alias("sessions")
    reached = per_step.groupBy("step").agg(
        F.count_distinct("visitor_id").alias("visitors"), sessions,
        F.round(F.median("delta_s"), 2).alias("median_s_from_previous"),
    )
    steps = spark.createDataFrame(
        [(order, funnel.name, funnel.unit, i + 1, s.name) for i, s in enumerate(funnel.steps)],
        "funnel_order int, funnel string, unit string, step int, step_name string",
    )
    unit = F.col(funnel.unit)
    by_step = Window.partitionBy("funnel").orderBy("step")
    previous = F.lag(unit).over(by_step)
    first = F.first(unit).over(by_step)
    return (steps.join(reached, "step", "left")
            .withColumn("visitors", F.coalesce("visitors", F.lit(0)).cast("long"))
            .withColumn("sessions", F.coalesce("sessions", F.lit(0)).cast("long"))
            .select("funnel_order", "funnel", "unit", "step", "step_name", "visitors", "sessions",
                    pct(unit, previous).alias("conversion_step_pct"),
                    pct(unit, first).alias("conversion_overall_pct"),
                    (previous - unit).alias("drop_off"),
                    F.round(100.0 - pct(unit, previous), 2).alias("drop_off_pct"),
                    "median_s_from_previous"))


def breakdown_table(spark, funnel: Funnel, walks: DataFrame, sessions: DataFrame,
                    order: int) -> DataFrame:
    """Units reaching each step by the entry session's device, country, source, campaign."""
    dims = [d for d in funnel.breakdowns]
    attributes = sessions.select(
        F.col("session_id").alias("entry_session"),
        F.create_map(*[x for d in dims for x in (F.lit(d), none_label(F.col(DIMENSIONS[d])))])
        .alias("dims"),
    )
    per_step = _per_step(walks).join(attributes, "entry_session", "left")
    counted = (per_step.select("step", F.explode("dims").alias("dimension", "value"))
               .groupBy("dimension", "value", "step").agg(F.count(F.lit(1)).alias("units")))
    steps = spark.createDataFrame(
        [(i + 1, s.name) for i, s in enumerate(funnel.steps)], "step int, step_name string")
    values = counted.where("step = 1").select(
        "dimension", "value", F.col("units").alias("entered"),
        F.row_number().over(Window.partitionBy("dimension")
                            .orderBy(F.desc("units"), "value")).alias("rank"),
    ).where(F.col("rank") <= TOP_VALUES)
    grid = values.crossJoin(steps)
    dim_order = F.array_position(F.array(*[F.lit(d) for d in dims]), F.col("dimension"))
    return (grid.join(counted, ["dimension", "value", "step"], "left")
            .select(F.lit(order).alias("funnel_order"), F.lit(funnel.name).alias("funnel"),
                    F.lit(funnel.unit).alias("unit"), "dimension", "value", "step", "step_name",
                    F.coalesce("units", F.lit(0)).cast("long").alias("units"),
                    pct(F.coalesce("units", F.lit(0)), F.col("entered"))
                    .alias("conversion_overall_pct"),
                    dim_order.alias("_dim"), "rank"))


def people_table(spark, funnel: Funnel, walks: DataFrame, sessions: DataFrame,
                 order: int) -> DataFrame:
    """Per step: the people (users where known, visitors otherwise) among the units reaching
    it, and how many of those units are cookieless visitors."""
    entry = sessions.select(F.col("session_id").alias("entry_session"),
                            F.col("user_id").alias("entry_user"), "cookieless")
    per_step = _per_step(walks).join(entry, "entry_session", "left")
    counted = per_step.groupBy("step").agg(
        *people_measures(F.col("entry_user"), F.col("visitor_id"),
                         F.coalesce(F.col("cookieless"), F.lit(False))))
    steps = spark.createDataFrame(
        [(order, funnel.name, funnel.unit, i + 1, s.name) for i, s in enumerate(funnel.steps)],
        "funnel_order int, funnel string, unit string, step int, step_name string",
    )
    measures = ("people", "identified_users", "anonymous_visitors", "cookieless_visitors")
    return steps.join(counted, "step", "left").select(
        "funnel_order", "funnel", "unit", "step", "step_name",
        *[F.coalesce(F.col(m), F.lit(0)).cast("long").alias(m) for m in measures])


def build(inputs: ReportInputs) -> Report:
    if inputs.funnels_file is None:
        raise ValueError("the funnels report needs a funnels file (--funnels funnels.yaml)")
    funnels = load_funnels(inputs.funnels_file)
    spark = inputs.spark
    steps, breakdowns, people, charts = [], [], [], []
    for order, funnel in enumerate(funnels):
        walks = best_walks(inputs.events, funnel)
        steps.append(step_table(spark, funnel, walks, order))
        people.append(people_table(spark, funnel, walks, inputs.sessions, order))
        breakdowns.append(breakdown_table(spark, funnel, walks, inputs.sessions, order))
        charts.append(Chart("funnel_steps", "funnel", "step_name", (funnel.unit,),
                            f"{funnel.name}: {funnel.unit} reaching each step",
                            where=("funnel", funnel.name)))
    step_frame = (reduce(DataFrame.unionByName, steps).orderBy("funnel_order", "step")
                  .drop("funnel_order"))
    people_frame = (reduce(DataFrame.unionByName, people).orderBy("funnel_order", "step")
                    .drop("funnel_order"))
    breakdown_frame = (reduce(DataFrame.unionByName, breakdowns)
                       .orderBy("funnel_order", "_dim", "rank", "step")
                       .drop("funnel_order", "_dim", "rank"))
    return Report(
        name=NAME, title=TITLE, headline="funnel_steps",
        tables=(
            Table("funnel_steps", "Steps", step_frame,
                  note="Rates are over the funnel's unit: sessions for `within: session` "
                       "funnels, visitors for multi-day funnels."),
            Table("funnel_people", "People reaching each step", people_frame,
                  note=f"{PEOPLE_NOTE} Counted by the session the unit entered the funnel in. "
                       f"{COOKIELESS_NOTE}"),
            Table("funnel_breakdown", f"Breakdowns (top {TOP_VALUES} values per dimension)",
                  breakdown_frame,
                  note="By the session in which the unit entered the funnel."),
        ),
        charts=tuple(charts),
    )
