"""Unit converter: an MCP server whose tools convert between units of length, mass, volume, time,
speed and temperature, and compare two quantities. No model and no network: every answer is
arithmetic.

Served as AgentCore's MCP contract asks: streamable HTTP on 0.0.0.0:8000, `POST /mcp`, stateless
(any `Mcp-Session-Id` the platform adds is accepted), with plain JSON answers. The server is the MCP
Python SDK's MCPServer (called FastMCP before mcp 2). `GET /ping` answers too, for health checks.
"""

import logging
import os
from pathlib import Path
from typing import Literal, TypedDict

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.responses import JSONResponse

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))

# Packaging places the prompt beside this file (prompts/unit_converter_mcp.txt is its source): here
# it is the server's instructions, which MCP clients show their model.
INSTRUCTIONS_FILE = Path(__file__).with_name("system_prompt.txt")

# Each unit's size in its quantity's base unit (metre, kilogram, litre, second, metre per second).
UNITS = {
    "length": {
        "mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0,
        "in": 0.0254, "ft": 0.3048, "yd": 0.9144, "mi": 1609.344, "nmi": 1852.0,
    },
    "mass": {
        "mg": 1e-6, "g": 0.001, "kg": 1.0, "t": 1000.0,
        "oz": 0.028349523125, "lb": 0.45359237, "st": 6.35029318,
    },
    "volume": {
        "ml": 0.001, "l": 1.0, "m3": 1000.0,
        "tsp": 0.00492892159375, "tbsp": 0.01478676478125, "cup": 0.2365882365,
        "pt": 0.473176473, "qt": 0.946352946, "gal": 3.785411784,
    },
    "time": {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "day": 86400.0, "week": 604800.0},
    "speed": {"m/s": 1.0, "km/h": 1000.0 / 3600.0, "mph": 1609.344 / 3600.0, "kn": 1852.0 / 3600.0},
}
# Temperatures are not proportional: each scale as (factor, offset) from kelvin, K = value * factor + offset.
TEMPERATURES = {"K": (1.0, 0.0), "C": (1.0, 273.15), "F": (5.0 / 9.0, 273.15 - 32.0 * 5.0 / 9.0)}


def _instructions():
    try:
        return INSTRUCTIONS_FILE.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


mcp = MCPServer(name="unit_converter", instructions=_instructions())


class Conversion(TypedDict):
    quantity: str
    value: float
    from_unit: str
    to_unit: str
    result: float


class Comparison(TypedDict):
    larger: Literal["a", "b", "equal"]
    difference: float
    unit: str


def _quantity(unit):
    if unit in TEMPERATURES:
        return "temperature"
    for quantity, units in UNITS.items():
        if unit in units:
            return quantity
    raise ToolError(f"unknown unit `{unit}`; list_units names every unit this server knows")


def _convert(value, from_unit, to_unit):
    quantity, target = _quantity(from_unit), _quantity(to_unit)
    if quantity != target:
        raise ToolError(f"cannot convert {quantity} ({from_unit}) to {target} ({to_unit})")
    if quantity == "temperature":
        factor, offset = TEMPERATURES[from_unit]
        kelvin = value * factor + offset
        if kelvin < 0:
            raise ToolError(f"{value} {from_unit} is below absolute zero")
        factor, offset = TEMPERATURES[to_unit]
        return quantity, (kelvin - offset) / factor
    return quantity, value * UNITS[quantity][from_unit] / UNITS[quantity][to_unit]


@mcp.tool()
def list_units(quantity: str | None = None) -> dict[str, list[str]]:
    """Lists the unit symbols of each quantity (length, mass, volume, time, speed, temperature), or of one."""
    known = {name: list(units) for name, units in UNITS.items()}
    known["temperature"] = list(TEMPERATURES)
    if quantity is None:
        return known
    if quantity not in known:
        raise ToolError(f"unknown quantity `{quantity}`; one of {', '.join(known)}")
    return {quantity: known[quantity]}


@mcp.tool()
def convert(value: float, from_unit: str, to_unit: str) -> Conversion:
    """Converts a value between two units of one quantity, e.g. 5 km to mi or 100 F to C (symbols as list_units gives)."""
    quantity, result = _convert(value, from_unit, to_unit)
    return Conversion(quantity=quantity, value=value, from_unit=from_unit, to_unit=to_unit, result=round(result, 9))


@mcp.tool()
def compare(value_a: float, unit_a: str, value_b: float, unit_b: str) -> Comparison:
    """Says which of two quantities of one kind is larger, e.g. 5 km or 3 mi, and by how much in the first's unit."""
    _, b_in_a = _convert(value_b, unit_b, unit_a)
    if abs(value_a - b_in_a) <= 1e-9 * max(abs(value_a), abs(b_in_a), 1.0):
        larger = "equal"
    else:
        larger = "a" if value_a > b_in_a else "b"
    return Comparison(larger=larger, difference=round(abs(value_a - b_in_a), 9), unit=unit_a)


@mcp.custom_route("/ping", methods=["GET"])
async def ping(request: Request) -> JSONResponse:
    return JSONResponse({"status": "Healthy"})


if __name__ == "__main__":
    mcp.run(
        "streamable-http",
        host="0.0.0.0",
        port=8000,
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
    )
