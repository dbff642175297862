"""The champion of every model the queues name (docs/architecture.md §10). Each model
is loaded, verified and reloaded on its own, so a queue whose model has no champion,
or whose champion is refused, says so while the other queues are served."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from triage.exceptions import BundleIntegrityError, ModelUnavailable, TriageError
from triage.service.models import LoadedModel, ModelInfo, ModelSource, reload_champion
from triage.service.queues import QueueDef, QueueSpec
from triage.service.scoring import Scorer
from triage.service.store import Store

__all__ = ["MESSAGE_NO_CHAMPION", "MESSAGE_QUEUE_UNAVAILABLE", "Champions", "Reloaded"]

logger = logging.getLogger(__name__)

MESSAGE_NO_CHAMPION = (
    "{model} has no @champion: train and promote one (triage promote), then POST /admin/reload"
)
MESSAGE_QUEUE_UNAVAILABLE = "queue {queue!r} is not served: {problem}"


@dataclass(frozen=True)
class Reloaded:
    """What one model's (re)load did; ``refused`` holds the refusal, if any."""

    model: str
    previous: str | None
    current: str | None
    refused: str | None = None


class Champions:
    """The champions of ``spec``'s models, from ``sources`` (by model name). A model
    without a source is served by nothing and says it has no champion."""

    def __init__(self, spec: QueueSpec, sources: Mapping[str, ModelSource]) -> None:
        self.spec = spec
        self._sources = dict(sources)
        self._loaded = {model: LoadedModel() for model in spec.models}
        self._problems: dict[str, str] = {}

    def loaded(self, model: str) -> LoadedModel:
        return self._loaded[model]

    def source(self, model: str) -> ModelSource | None:
        return self._sources.get(model)

    def set(self, model: str, info: ModelInfo | None, scorer: Scorer | None) -> None:
        """Serve ``scorer`` for ``model`` without asking the registry (tests)."""
        self._loaded[model].set(info, scorer)

    def load_all(self, store: Store, *, key_id: str, action: str) -> list[Reloaded]:
        """(Re)load every model's champion, each recorded in the audit log; a refusal
        or an unreadable registry leaves that model as it was and the others load."""
        done = []
        for model in self.spec.models:
            source = self._sources.get(model)
            if source is None:
                continue
            loaded = self._loaded[model]
            was = loaded.get()[1]
            before = None if was is None else was.model_version
            try:
                previous, current = reload_champion(
                    store, source, loaded, key_id=key_id, action=action
                )
            except BundleIntegrityError as exc:
                self._problems[model] = str(exc)
                done.append(Reloaded(model, before, before, refused=str(exc)))
                continue
            except TriageError as exc:  # the registry cannot be read: keep what is served
                logger.warning("could not load the champion of %s: %s", model, exc)
                self._problems[model] = str(exc)
                done.append(Reloaded(model, before, before))
                continue
            self._problems.pop(model, None)
            done.append(Reloaded(model, previous, current))
        return done

    def serving(self, queue: QueueDef) -> tuple[ModelInfo | None, Scorer | None]:
        return self._loaded[queue.model].get()

    def problem(self, queue: QueueDef) -> str | None:
        """Why ``queue`` is not served, or None when it is."""
        if self.serving(queue)[1] is not None:
            return None
        return self._problems.get(queue.model) or MESSAGE_NO_CHAMPION.format(model=queue.model)

    def scorer(self, queue: QueueDef) -> Scorer:
        """The scorer ranking ``queue``; ``ModelUnavailable`` (503) naming the queue and
        its model when there is none."""
        scorer = self.serving(queue)[1]
        if scorer is None:
            problem = self.problem(queue)
            raise ModelUnavailable(
                MESSAGE_QUEUE_UNAVAILABLE.format(queue=queue.name, problem=problem)
            )
        return scorer

    def served(self) -> dict[str, str | None]:
        """Each queue's served model version (None: not served)."""
        out = {}
        for queue in self.spec.queues:
            scorer = self.serving(queue)[1]
            out[queue.name] = None if scorer is None else scorer.model_version
        return out
