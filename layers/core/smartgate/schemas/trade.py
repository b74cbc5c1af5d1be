"""What traders declare: the consignment (pre-arrival declaration) and the booked crossing slot."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from smartgate.domain.containers import normalise_container, validate_container
from smartgate.schemas.base import Contract, Country, Direction, Identifier, LabTest, UtcDatetime


def _hs_digits(value: object) -> object:
    """``"0810.90"``, ``"0810 90"`` and ``"081090"`` are the same HS code."""
    return re.sub(r"[\s.]", "", value) if isinstance(value, str) else value


HsCode = Annotated[
    str,
    BeforeValidator(_hs_digits),
    Field(
        pattern=r"^[0-9]{4}([0-9]{2}){0,3}$", description="HS code, 4 to 10 digits (heading to national tariff line)"
    ),
]
CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. USD, VND, CNY")]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country of origin")]
Kilograms = Annotated[float, Field(gt=0, le=200_000)]


def _container_no(value: str) -> str:
    code = normalise_container(value)
    check = validate_container(code)
    if not check.check_digit_ok:
        raise ValueError(f"{value!r} is not an ISO 6346 container number: {check.reason}")
    return code


ContainerNo = Annotated[str, Field(min_length=4, max_length=16), AfterValidator(_container_no)]
"""An ISO 6346 container number whose check digit is right, stored as ``MSKU6011672``."""


class GoodsLine(Contract):
    """One line of a declaration: what, how much, what it is worth, where it comes from, what it needs."""

    hs_code: HsCode
    description: Annotated[str, Field(min_length=1, max_length=300)]
    quantity: Annotated[float, Field(gt=0)]
    unit: Annotated[str, Field(min_length=1, max_length=16, description="carton, bag, pallet, piece, kg ...")]
    net_kg: Kilograms
    gross_kg: Kilograms
    value: Annotated[float, Field(ge=0)]
    currency: CurrencyCode
    origin: CountryCode
    perishable: bool = False
    shelf_life_deadline: UtcDatetime | None = Field(
        None, description="when perishable goods stop being fit to sell; held consignments near it are alerted"
    )
    reefer: bool = Field(False, description="carried refrigerated")
    needs_testing: list[LabTest] = Field(default_factory=list, description="tests the goods need before release")

    @model_validator(mode="after")
    def _consistent(self) -> GoodsLine:
        if self.gross_kg < self.net_kg:
            raise ValueError(f"gross_kg {self.gross_kg:g} is less than net_kg {self.net_kg:g}")
        if self.perishable and self.shelf_life_deadline is None:
            raise ValueError("shelf_life_deadline: needed for perishable goods")
        return self


def _plate_problem(plate: str, country: Country) -> str | None:
    from smartgate.domain.plates import validate_plate  # the plates module imports these contracts' enums

    check = validate_plate(plate, country)
    return None if check.valid else f"{plate!r} is not a valid {country.value} plate: {check.reason}"


class VehicleChecks(BaseModel):
    """The checks a declared vehicle gets wherever it is declared (the API's input, the stored contract):
    plates in their country's format, each container once."""

    @field_validator("plate_text", check_fields=False)
    @classmethod
    def _vehicle_plate(cls, plate: str, info: ValidationInfo) -> str:
        country = info.data.get("country")
        problem = _plate_problem(plate, country) if country else None
        if problem:
            raise ValueError(problem)
        return plate

    @field_validator("trailer_plate", check_fields=False)
    @classmethod
    def _trailer_plate(cls, plate: str | None, info: ValidationInfo) -> str | None:
        country = info.data.get("trailer_country") or info.data.get("country")
        problem = _plate_problem(plate, country) if plate and country else None
        if problem:
            raise ValueError(problem)
        return plate

    @field_validator("container_nos", check_fields=False)
    @classmethod
    def _once_each(cls, codes: list[str]) -> list[str]:
        if len(set(codes)) != len(codes):
            raise ValueError("a container is declared twice")
        return codes


class Consignment(Contract, VehicleChecks):
    """A trader's pre-arrival declaration: the vehicle, its containers, its driver and its goods."""

    schema_version: Literal["Consignment.v1"] = Field("Consignment.v1", alias="schema")
    consignment_id: Identifier
    trader_id: Identifier = Field(description="the declaring company")
    company_name: Annotated[str, Field(max_length=200)] = ""
    gate_id: Identifier
    direction: Direction
    country: Country = Field(description="the vehicle's country of registration")
    plate_text: Annotated[str, Field(min_length=1, max_length=20)]
    trailer_country: Country | None = None
    trailer_plate: Annotated[str, Field(max_length=20)] | None = None
    container_nos: Annotated[list[ContainerNo], Field(max_length=4)] = Field(default_factory=list)
    driver_ref: Identifier | None = Field(None, description="the registered driver (no personal data here)")
    vehicle_tare_kg: Kilograms | None = Field(
        None, description="unladen weight of the vehicle (and trailer), from its registration; the scale weighs both"
    )
    goods: Annotated[list[GoodsLine], Field(min_length=1, max_length=200)]
    declared_at: UtcDatetime
    revision: Annotated[int, Field(ge=1)] = 1

    @property
    def gross_kg(self) -> float:
        """Declared gross weight of the goods (the scale weighs the vehicle too: see the rule set)."""
        return sum(line.gross_kg for line in self.goods)

    def shelf_life_deadline(self) -> datetime | None:
        """The earliest shelf-life deadline of its perishable goods, if any."""
        deadlines = [line.shelf_life_deadline for line in self.goods if line.perishable and line.shelf_life_deadline]
        return min(deadlines, default=None)


class BookingStatus(StrEnum):
    BOOKED = "BOOKED"
    ARRIVED = "ARRIVED"  # the vehicle was seen at the gate
    CLEARED = "CLEARED"  # released
    CROSSED = "CROSSED"  # left the gate
    REFUSED = "REFUSED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"  # the window passed (with grace) and the vehicle never came


class Booking(Contract):
    """A trader's booked crossing slot for one vehicle at one gate and direction, for one consignment."""

    schema_version: Literal["Booking.v1"] = Field("Booking.v1", alias="schema")
    booking_id: Identifier
    trader_id: Identifier
    gate_id: Identifier
    direction: Direction
    plate_text: Annotated[str, Field(min_length=1, max_length=20)]
    country: Country
    consignment_id: Identifier | None = Field(None, description="the declaration this slot carries")
    driver_id: Identifier | None = Field(None, description="the registered driver the slot is bound to")
    trailer_plate: str | None = Field(None, max_length=20)
    container_no: str | None = Field(None, max_length=16)
    driver_name: str | None = Field(None, max_length=200, description="personal data: expires with the booking")
    slot_start: UtcDatetime
    slot_end: UtcDatetime
    status: BookingStatus = BookingStatus.BOOKED
    partner_inspection: Literal["physical", "lab"] | None = Field(
        None,
        description="the partner gate inspected (or lab-tested, passed) and released it: under mutual recognition "
        "(the bilateral agreement) our rules need not inspect it again",
    )
    created_at: UtcDatetime
