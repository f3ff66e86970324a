"""Orders CSV rows -> purchase/refund events: every reject reason, grouping, ids, times."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from stream_jobs.importing.mapping import ONLINE_RETAIL, MappingError, load_mapping
from stream_jobs.importing.orders import (
    OrderLine,
    Reject,
    order_event_id,
    order_events,
    parse_line,
)
from stream_jobs.importing.reading import ImportFileError, read_orders
from tracker.contract.validate import validate_event

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def row(invoice="536365", sku="85123A", desc="HEART HOLDER", qty="6",
        when="2010-12-01 08:26:00", price="2.55", customer="17850", country="United Kingdom"):
    return {"InvoiceNo": invoice, "StockCode": sku, "Description": desc, "Quantity": qty,
            "InvoiceDate": when, "UnitPrice": price, "CustomerID": customer, "Country": country}


def parse(**cells) -> OrderLine | Reject:
    return parse_line(row(**cells), 7, "text", ONLINE_RETAIL)


@pytest.mark.parametrize(("cells", "reason"), [
    ({"invoice": ""}, "InvoiceNo: empty"),
    ({"invoice": "53 6365"}, "InvoiceNo: '53 6365' is not an order id"),
    ({"sku": ""}, "StockCode: empty"),
    ({"qty": "six"}, "Quantity: 'six' is not a whole number"),
    ({"qty": "0"}, "Quantity: 0"),
    ({"qty": "74215"}, "Quantity: 74215 is beyond ±10000"),
    ({"price": "abc"}, "UnitPrice: 'abc' is not a number"),
    ({"price": "-11062.06"}, "UnitPrice: -11062.06 is not a price"),
    ({"price": "NaN"}, "UnitPrice: NaN is not a price"),
    ({"when": "01/12/2010 08:26"}, "InvoiceDate: '01/12/2010 08:26' does not match"),
    ({"customer": "17 850"}, "CustomerID: '17 850' is not an id"),
    ({"invoice": "C536379", "qty": "1"}, "Quantity: 1 is positive on cancellation invoice"),
])
def test_bad_cells_are_rejected_with_the_column_and_the_reason(cells, reason):
    result = parse(**cells)
    assert isinstance(result, Reject)
    assert result.line == 7 and result.text == "text"
    assert result.reason.startswith(reason)


def test_a_row_is_read_in_the_mappings_time_zone_and_spreadsheet_ids_are_whole():
    summer = parse(when="2011-06-01 10:00:00", customer="17850.0")
    assert isinstance(summer, OrderLine)
    assert summer.ts.isoformat() == "2011-06-01T09:00:00+00:00"  # BST is UTC+1
    assert summer.customer == "17850"
    winter = parse()
    assert isinstance(winter, OrderLine)
    assert winter.ts.isoformat() == "2010-12-01T08:26:00+00:00"
    assert (winter.quantity, winter.price, winter.refund) == (6, Decimal("2.55"), False)


def lines(*rows_) -> list[OrderLine]:
    out = []
    for i, cells in enumerate(rows_, start=2):
        parsed = parse_line(row(**cells), i, "", ONLINE_RETAIL)
        assert isinstance(parsed, OrderLine), parsed
        out.append(parsed)
    return out


def test_an_invoice_is_one_purchase_and_its_negative_lines_one_refund():
    events, rejects = order_events(lines(
        {"sku": "A", "qty": "6", "price": "2.55"},
        {"sku": "B", "qty": "3", "price": "0.10"},
        {"sku": "A", "qty": "-2", "price": "2.55"},
        {"invoice": "C536379", "sku": "D", "qty": "-1", "price": "27.5"},
        {"invoice": "536370", "sku": "E", "qty": "1", "price": "1", "customer": ""},
    ), ONLINE_RETAIL)
    assert rejects == []
    kinds = [(e["event_type"], e["order"]["order_id"], e["order"]["revenue"],
              [(i["sku"], i["quantity"]) for i in e["order"]["items"]]) for e in events]
    assert kinds == [
        ("purchase", "536365", 15.6, [("A", 6), ("B", 3)]),   # 6*2.55 + 3*0.10
        ("refund", "536365", 5.1, [("A", 2)]),
        ("refund", "C536379", 27.5, [("D", 1)]),
        ("purchase", "536370", 1.0, [("E", 1)]),
    ]
    first = events[0]
    assert first["user_id"] == "17850" and first["visitor_id"] == "import-c17850"
    assert events[3]["visitor_id"] == "import-g536370" and "user_id" not in events[3]
    assert first["client_ts"] == first["enrichment"]["derived_ts"] == "2010-12-01T08:26:00.000Z"
    assert first["enrichment"]["geo"] == {"country": "United Kingdom"}
    assert first["properties"] == {"import": "orders"}
    for e in events:  # valid contract events, bar the HTTP limit on items
        assert validate_event(e, allow_enrichment=True) == []


def test_event_ids_are_the_same_on_every_import():
    first, _ = order_events(lines({"sku": "A"}), ONLINE_RETAIL)
    again, _ = order_events(lines({"sku": "A", "qty": "9"}), ONLINE_RETAIL)
    assert first[0]["event_id"] == again[0]["event_id"] == order_event_id("536365", "purchase")


def test_a_line_naming_another_customer_than_its_order_is_rejected():
    events, rejects = order_events(lines({"sku": "A"}, {"sku": "B", "customer": "99999"}),
                                   ONLINE_RETAIL)
    assert [i["sku"] for i in events[0]["order"]["items"]] == ["A"]
    assert [(r.line, r.reason) for r in rejects] == [
        (3, "customer 99999 differs from 17850 on line 2 of order 536365")]


def write(tmp_path: Path, text: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_reports_each_bad_row_by_its_line_and_counts_progress(tmp_path):
    path = write(tmp_path, "\n".join([
        HEADER,
        "536365,A,HEART,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
        "536365,B,HEART,six,2010-12-01 08:26:00,2.55,17850,United Kingdom",
        '536366,C,"MULTI',
        'LINE NAME",1,2010-12-01 09:00:00,1.00,,France',
        "536367,D,TOO,1,2010-12-01 09:00:00,1.00,,France,extra",
        "",
    ]) + "\n")
    seen = []
    events, rejects, rows = read_orders(path, ONLINE_RETAIL, lambda n, r: seen.append((n, r)))
    assert rows == 4
    assert [(r.line, r.reason) for r in rejects] == [
        (3, "Quantity: 'six' is not a whole number"),
        (6, "9 cells; the header has 8")]
    assert [e["order"]["order_id"] for e in events] == ["536365", "536366"]
    assert events[1]["order"]["items"][0]["name"] == "MULTI\nLINE NAME"
    assert seen[-1] == (4, 2)


def test_a_header_without_a_mapped_column_fails_before_anything_is_read(tmp_path):
    path = write(tmp_path, "Invoice,Sku\n1,2\n")
    with pytest.raises(ImportFileError, match=r"no column for invoice \(InvoiceNo\)"):
        read_orders(path, ONLINE_RETAIL)


def test_a_mapping_file_renames_columns_and_refuses_unknown_keys(tmp_path):
    good = write(tmp_path, 'invoice = "order"\nsku = "sku"\ncustomer = ""\n'
                 'timezone = "UTC"\n', "m.toml")
    mapping = load_mapping(good)
    assert (mapping.invoice, mapping.sku, mapping.customer, mapping.price) == (
        "order", "sku", None, "UnitPrice")
    with pytest.raises(MappingError, match="unknown key 'colour'"):
        load_mapping(write(tmp_path, 'colour = "x"\n', "bad.toml"))
    with pytest.raises(MappingError, match="invoice names a required column"):
        load_mapping(write(tmp_path, 'invoice = ""\n', "bad2.toml"))
    with pytest.raises(MappingError, match="not an IANA zone"):
        load_mapping(write(tmp_path, 'timezone = "Mars/Base"\n', "bad3.toml"))


def test_a_truncated_gzip_is_refused_with_the_reason(tmp_path):
    from stream_jobs.importing.job import read_import

    retail = Path(__file__).resolve().parents[3].parent / "shared" / "data" / \
        "online-retail" / "online_retail.csv.gz"
    if not retail.is_file():
        pytest.skip(f"{retail} is absent")
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(retail.read_bytes()[:5000])
    with pytest.raises(ImportFileError, match="cannot read: Compressed file ended"):
        read_import("orders", cut, progress=False)
    with pytest.raises(ImportFileError, match="no such file"):
        read_import("orders", tmp_path / "missing.csv", progress=False)
