"""What a deployment may tune about daily scoring: health bands, component scores, reasons,
playbook, alerts, CSM capacity.

Loaded from the YAML named by ``ACCOUNT_HEALTH_SCORING_CONFIG`` (see docs/scores.md); every
field has the documented default, so an empty or absent file means the defaults.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from models.alerts.engine import AlertConfig
from models.alerts.work_queue import CapacityConfig
from models.analysis.activation import ActivationConfig
from models.scoring.components import DEFAULT_COMPONENTS, Component
from models.scoring.health_bands import HealthConfig
from models.scoring.playbook import Playbook


class ScoringConfig(BaseModel):
    """Health bands (with segment overrides), number of reasons, playbook and alerts."""

    model_config = ConfigDict(extra="forbid")

    health: HealthConfig = Field(default_factory=HealthConfig)
    #: component health scores (models.scoring.components): weights and thresholds
    components: dict[str, Component] = Field(default_factory=lambda: dict(DEFAULT_COMPONENTS))
    alerts: AlertConfig = Field(default_factory=AlertConfig)
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)
    #: what an activated new account does, and when one is queued for onboarding
    activation: ActivationConfig = Field(default_factory=ActivationConfig)
    n_reasons: int = Field(3, ge=1, le=5)
    #: A playbook YAML; relative paths are relative to the config file. Empty: the default.
    playbook_file: str = ""

    @classmethod
    def load(cls, path: Path | None) -> ScoringConfig:
        if path is None:
            return cls()
        config = cls.model_validate(yaml.safe_load(Path(path).read_text()) or {})
        if config.playbook_file:
            playbook = Path(config.playbook_file)
            if not playbook.is_absolute():
                playbook = Path(path).parent / playbook
            config.playbook_file = str(playbook)
        return config

    def playbook(self) -> Playbook:
        return Playbook.load(Path(self.playbook_file) if self.playbook_file else None)
