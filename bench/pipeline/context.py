"""What every stage of one case needs: its data, a way to build the model at any widths, and measurements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import torch
from torch import nn

from bench.data import DatasetSplits, create_dataset
from bench.errors import BenchError
from bench.measure import TimingConditions, count_macs, count_params, measure_peak_memory
from bench.model_spec import build_model
from bench.suite import Case
from bench.train import TrainConfig
from morph import ChannelGraph, build_graph, group_widths, rebuild
from morph.errors import MorphError


@dataclass
class CaseContext:
    """Lazily built resources of one case; built only when some stage has work to do."""

    case: Case
    device: str = "cpu"
    progress: bool = True
    _splits: DatasetSplits | None = field(default=None, repr=False)
    _graphs: dict[tuple[str, ...], ChannelGraph] = field(default_factory=dict, repr=False)

    @property
    def splits(self) -> DatasetSplits:
        if self._splits is None:
            data = self.case.config.data
            self._splits = create_dataset(data.name, **data.builder_kwargs())
        return self._splits

    @cached_property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one example: the data's own, or ``measure.input_size`` for H and W."""
        image = self.splits.train[0][0]
        c, h, w = image.shape
        size = self.case.config.measure.input_size
        return (c, *size) if size else (c, h, w)

    @cached_property
    def example(self) -> torch.Tensor:
        return torch.zeros(1, *self.input_shape)

    def fresh_base(self) -> nn.Module:
        """The seed model, initialised from the case's seed."""
        model = self.case.config.model
        kwargs = dict(model.kwargs)
        kwargs.setdefault("in_channels", self.input_shape[0])
        classes = self.splits.num_classes
        kwargs.setdefault("classes", 1 if classes == 2 and self.splits.task == "segmentation" else classes)
        torch.manual_seed(self.case.seed)
        return build_model(model.name, kwargs)

    @cached_property
    def base_model(self) -> nn.Module:
        return self.fresh_base()

    @cached_property
    def graph(self) -> ChannelGraph:
        return build_graph(self.base_model, self.example)

    @cached_property
    def seed_widths(self) -> dict[str, int]:
        """Width per channel group of the seed model (the keys every stage's widths use)."""
        return group_widths(self.graph)

    @cached_property
    def layer_order(self) -> list[str]:
        """The channel groups (the keys of every stage's widths) in the model's forward order."""
        return [g.name for g in self.graph.groups]

    def model_at(self, widths: Mapping[str, int], *, seed_offset: int = 0, remove: Sequence[str] = ()) -> nn.Module:
        """A freshly initialised model at ``widths`` (group names), seeded by the case seed (+ offset), without
        the block convs in ``remove`` (layer removal; ``widths`` then has no key for them)."""
        torch.manual_seed(self.case.seed + seed_offset)
        if dict(widths) == self.seed_widths and not remove:
            return self.fresh_base()
        try:
            return rebuild(self.base_model, dict(widths), self.example, graph=self.graph, remove=remove)
        except MorphError as exc:
            raise BenchError(f"case {self.case.id}: cannot rebuild at widths: {exc}") from None

    def graph_without(self, remove: Sequence[str]) -> ChannelGraph:
        """The channel graph of the seed model without the block convs in ``remove`` (costs of a shorter model)."""
        key = tuple(sorted(remove))
        if not key:
            return self.graph
        if key not in self._graphs:
            self._graphs[key] = build_graph(self.model_at(self.seed_widths, remove=key), self.example)
        return self._graphs[key]

    def train_config(self, **overrides: Any) -> TrainConfig:
        settings = self.case.config.train.model_dump()
        settings.update(overrides)
        return TrainConfig(**settings, seed=self.case.seed, device=self.device, progress=self.progress)  # type: ignore[arg-type]

    def timing(self, batch: int) -> TimingConditions:
        """The ``[measure]`` conditions of a latency at ``batch`` (reported latencies and measured budgets)."""
        m = self.case.config.measure
        return TimingConditions(batch=batch, threads=m.threads, warmup=m.warmup, min_runs=m.min_runs,
                                min_time_s=m.min_time_s, cudnn_benchmark=m.cudnn_benchmark,
                                channels_last=m.channels_last, dtype=m.dtype)

    def measure_latency(self, model: nn.Module) -> dict[str, Any]:
        """``{"<device>_b<batch>": latency fields}`` for every ``measure.batch_sizes``, under the case's protocol."""
        return {f"{self.device}_b{batch}": self.timing(batch).measure(model.to("cpu"), self.input_shape,
                                                                      self.device).to_dict()
                for batch in self.case.config.measure.batch_sizes}

    def measure(self, model: nn.Module) -> dict[str, Any]:
        """Params, MACs/FLOPs (fvcore), latency per batch size and peak memory of ``model`` on this device."""
        m = self.case.config.measure
        model = model.to("cpu")
        count = count_macs(model, (1, *self.input_shape))
        latency = self.measure_latency(model)
        memory = measure_peak_memory(model, self.input_shape, device=self.device, batch=m.batch_sizes[0])
        return {
            "params": count_params(model), "macs": int(count.macs), "flops": int(count.flops),
            "latency": latency, "peak_memory_bytes": memory.delta_bytes,
            "extra": {"conv_macs": int(count.conv_macs), "fvcore_skipped": list(count.skipped)},
        }
