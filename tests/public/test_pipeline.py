"""A small pipeline written the way a user writes one, tested the way a user tests it.

Only ``import legato as lg`` is used here: this folder tests what users are promised.
"""

from __future__ import annotations

from typing import Any

import pytest

import legato as lg


@lg.asset
def orders() -> list[dict[str, Any]]:
    """Raw orders, as landed."""
    return [
        {"id": 1, "user": "ada", "amount": 30.0},
        {"id": 2, "user": "bob", "amount": 12.5},
        {"id": 3, "user": "ada", "amount": 7.5},
    ]


@lg.asset(retries=2)
def revenue_by_user(ctx: lg.StepContext, orders: list[dict[str, Any]]) -> dict[str, float]:
    ctx.log.info("summing %d orders", len(orders))
    totals: dict[str, float] = {}
    for order in orders:
        totals[order["user"]] = totals.get(order["user"], 0.0) + order["amount"]
    return totals


@lg.asset
def top_user(revenue_by_user: dict[str, float]) -> str:
    return max(revenue_by_user, key=lambda user: revenue_by_user[user])


@lg.task(retries=1)
def price_with_tax(amount: float, rate: float) -> float:
    return round(amount * (1 + rate), 2)


@lg.task
def total(prices: list[float]) -> float:
    return sum(prices)


@lg.flow
def invoice(amounts: list[float], rate: float = 0.2) -> float:
    prices = price_with_tax.map(amounts, rate=rate)
    return total([p.result() for p in prices])


defs = lg.Definitions(assets=[orders, revenue_by_user, top_user], flows=[invoice])


def test_assets_are_plain_functions_too() -> None:
    assert top_user({"ada": 1.0, "bob": 2.0}) == "bob"


def test_materialize_everything(settings: lg.Settings) -> None:
    result = lg.materialize(defs, settings=settings)
    assert result.status == "succeeded"
    assert result.ok
    assert list(result.steps) == ["orders", "revenue_by_user", "top_user"]
    for step in result.steps.values():
        assert step.status == "succeeded"
        assert step.attempts == 1
        assert step.error is None
        assert step.duration is not None and step.duration >= 0
    assert result.value("revenue_by_user") == {"ada": 37.5, "bob": 12.5}
    assert result.value("top_user") == "ada"
    assert isinstance(result.run_id, str) and result.run_id


def test_materialize_a_selection_reuses_stored_upstream(settings: lg.Settings) -> None:
    lg.materialize(defs, settings=settings)
    result = lg.materialize(defs, "top_user", settings=settings)
    assert result.status == "succeeded"
    assert list(result.steps) == ["top_user"]
    assert result.value("top_user") == "ada"


def test_materialize_a_list_of_assets_with_upstream_selection(settings: lg.Settings) -> None:
    result = lg.materialize([orders, revenue_by_user, top_user], "*revenue_by_user",
                            settings=settings)
    assert list(result.steps) == ["orders", "revenue_by_user"]


def test_run_a_flow(settings: lg.Settings) -> None:
    result = lg.run(invoice, amounts=[10.0, 20.0], settings=settings)
    assert result.status == "succeeded"
    assert result.output == 36.0
    assert len(result.steps) == 3
    assert all(step.ok for step in result.steps.values())


def test_a_failing_asset_skips_what_depends_on_it(settings: lg.Settings) -> None:
    @lg.asset
    def broken_orders() -> list[int]:
        raise ValueError("corrupt file")

    @lg.asset
    def totals(broken_orders: list[int]) -> int:
        return sum(broken_orders)

    @lg.asset
    def unrelated() -> int:
        return 1

    result = lg.materialize([broken_orders, totals, unrelated], settings=settings)
    assert result.status == "failed"
    assert not result.ok
    assert result.steps["broken_orders"].status == "failed"
    assert "corrupt file" in (result.steps["broken_orders"].error or "")
    assert result.steps["totals"].status == "skipped"
    assert result.steps["unrelated"].status == "succeeded"
    assert result.value("unrelated") == 1


def test_bad_parameters_are_refused(settings: lg.Settings) -> None:
    with pytest.raises(lg.ParamsError):
        lg.run(invoice, amount=[1.0], settings=settings)


def test_an_unknown_selection_is_refused(settings: lg.Settings) -> None:
    with pytest.raises(lg.SelectionError, match="did you mean 'top_user'"):
        lg.materialize(defs, "top_usr", settings=settings)
