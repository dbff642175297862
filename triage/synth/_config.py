"""Settings of the synthetic world: size, seed, and the knobs that inject known group
effects so the fairness audit can be checked against answers we set ourselves."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from triage.contract.names import ETHNICITIES, SEXES

__all__ = ["KNOWN_GROUPS", "DownRecording", "GradingBias", "RecordingBias", "SynthConfig"]

GroupAttribute = Literal["ethnicity", "deprivation_quintile", "sex"]
#: the victim groups each attribute has: a knob on any other group would hit nobody
KNOWN_GROUPS: dict[str, tuple[str, ...]] = {
    "ethnicity": ETHNICITIES,
    "deprivation_quintile": ("1", "2", "3", "4", "5"),
    "sex": SEXES,
}


class _Knob(BaseModel):
    """A knob acts on the victims of one group of one attribute."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attribute: GroupAttribute
    group: str

    @model_validator(mode="after")
    def _known_group(self) -> _Knob:
        known = KNOWN_GROUPS[self.attribute]
        if self.group not in known:
            raise ValueError(
                f"unknown {self.attribute} group {self.group!r}: known groups are "
                + ", ".join(known)
            )
        return self


class RecordingBias(_Knob):
    """Multiply the chance that incidents of one victim group are recorded.

    ``factor < 1`` is under-reporting (or under-recording), ``> 1`` over-recording
    (capped at certainty). ``applies_to`` picks which incidents: ``non_serious`` thins
    a group's visible history while its serious escalations are still recorded, the
    case in which a model trained on history misses that group.
    """

    factor: float = Field(gt=0, le=5)
    applies_to: Literal["all", "non_serious", "serious"] = "all"


class GradingBias(_Knob):
    """Shift the officer's DASH grading for incidents of one victim group, in ticks
    (positive: graded higher than the answers warrant)."""

    shift: float = Field(ge=-14, le=14)


class DownRecording(_Knob):
    """Officers record the incidents of one victim group less fully than they were.

    With chance ``rate`` each: a non-serious crime is recorded as
    ``non_crime_domestic``, a risk marker (injury, weapon, strangulation) its type does
    not imply is left out, and a risk the victim discloses in the DASH is recorded as
    "no". With chance ``unnamed`` the suspect is left unnamed (no ``perpetrator_id``),
    on top of the county-wide ``missing_perpetrator_rate``. The same incidents are
    recorded and every serious one keeps its type, so the group's escalations are
    still recorded as serious harm, but what came before them looks minor and, without
    a named suspect, is not linked to the perpetrator's record: a model misses more
    of that group's escalations. With ``unnamed=0`` labels and the truth are exactly
    those of the world without the knob; an unnamed suspect links an incident to
    escalations through its victim only, as the labels and the truth both count.
    """

    rate: float = Field(ge=0, le=1)
    unnamed: float = Field(default=0.0, ge=0, le=1)


class SynthConfig(BaseModel):
    """A synthetic county. Same config and seed, byte-identical tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(default=20240601, ge=0)
    years: float = Field(default=5.0, gt=0, le=30)
    incidents_per_year: int = Field(default=12_000, ge=10, le=5_000_000)
    start: str = Field(default="2020-01-01", description="first day of the extract (UTC)")
    burn_in_years: float = Field(default=10.0, ge=0, le=30)
    truth: bool = True
    recording_bias: tuple[RecordingBias, ...] = ()
    grading_bias: tuple[GradingBias, ...] = ()
    down_recording: tuple[DownRecording, ...] = ()
    missing_perpetrator_rate: float = Field(default=0.03, ge=0, le=0.5)
    group_risk: bool = Field(
        default=True,
        description=(
            "victims' sex and age go with their risk as in life: a victim's age follows"
            " the relationship and the perpetrator's (whose age shapes the abuse), an"
            " elderly parent abused by an adult child is frail, men and women suffer"
            " different kinds of serious harm. False shuffles the recorded victims' sex"
            " and date of birth among them (nothing else changes, the labels and the"
            " truth included), so that no victim group differs in risk: the world with"
            " every knob off"
        ),
    )

    @model_validator(mode="after")
    def _sex_knobs_need_group_risk(self) -> SynthConfig:
        attributes = [k.attribute for k in self.recording_bias]
        attributes += [k.attribute for k in self.grading_bias]
        attributes += [k.attribute for k in self.down_recording]
        if not self.group_risk and "sex" in attributes:
            raise ValueError(
                "a knob on victims' sex needs group_risk: without it the recorded sex is"
                " shuffled after the knob has acted, so the knob would hit no recorded group"
            )
        return self
