"""The quality gate on a rollout's canary wave: the canary devices' heartbeats on the new model
(anomaly rate, p99 latency, errors, throughput) against the bounds set on the deployment and
against the same devices' last heartbeats on the previous model (their baseline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dda.portal.db import DeploymentDevice, Device

BASELINE_KEYS = ("anomaly_rate", "p99_latency_ms", "throughput_per_min")


def baseline_of(device: Device) -> dict[str, Any]:
    """What the device measured on its current model, from its last heartbeat (empty if none)."""
    beat = device.last_heartbeat or {}
    return {key: float(beat[key]) for key in BASELINE_KEYS if isinstance(beat.get(key), int | float)}


@dataclass(frozen=True)
class GateVerdict:
    passed: bool
    summary: str
    report: dict[str, Any]


def _on_new_model(link: DeploymentDevice, device: Device, etag: str) -> dict[str, Any] | None:
    """The device's last heartbeat if it was sent after the install, on the new deployment."""
    beat = device.last_heartbeat or {}
    if device.last_seen_at is None or device.last_seen_at < link.updated_at:
        return None
    return beat if beat.get("desired_etag") == etag else None


def _problems(gate: dict[str, Any], beat: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    problems = []
    rate = float(beat.get("anomaly_rate", 0.0))
    p99 = float(beat.get("p99_latency_ms", 0.0))
    if gate.get("max_anomaly_rate") is not None and rate > gate["max_anomaly_rate"]:
        problems.append(f"anomaly rate {rate:.3f} > {gate['max_anomaly_rate']}")
    increase = gate.get("max_anomaly_rate_increase")
    if increase is not None and "anomaly_rate" in baseline and rate - baseline["anomaly_rate"] > increase:
        problems.append(f"anomaly rate {baseline['anomaly_rate']:.3f} -> {rate:.3f} (more than +{increase})")
    if gate.get("max_p99_latency_ms") is not None and p99 > gate["max_p99_latency_ms"]:
        problems.append(f"p99 {p99:.1f} ms > {gate['max_p99_latency_ms']} ms")
    ratio = gate.get("max_p99_latency_ratio")
    before = baseline.get("p99_latency_ms", 0.0)
    if ratio is not None and before > 0 and p99 / before > ratio:
        problems.append(f"p99 {before:.1f} -> {p99:.1f} ms (more than x{ratio})")
    floor = gate.get("min_throughput_per_min")
    if floor is not None and float(beat.get("throughput_per_min", 0.0)) < floor:
        problems.append(f"throughput {float(beat.get('throughput_per_min', 0.0)):.1f}/min < {floor}/min")
    return problems


def evaluate(
    gate: dict[str, Any], canary: list[tuple[DeploymentDevice, Device]], etag: str
) -> GateVerdict | None:
    """None while a canary device has not sent a heartbeat on the new model yet."""
    devices: dict[str, Any] = {}
    failing: list[str] = []
    with_errors = 0
    for link, device in canary:
        beat = _on_new_model(link, device, etag)
        if beat is None:
            return None
        baseline = link.baseline or {}
        problems = _problems(gate, beat, baseline)
        with_errors += 1 if beat.get("last_error") else 0
        devices[device.name] = {
            "anomaly_rate": beat.get("anomaly_rate"),
            "p99_latency_ms": beat.get("p99_latency_ms"),
            "throughput_per_min": beat.get("throughput_per_min"),
            "baseline": baseline,
            "problems": problems,
        }
        failing += [f"{device.name}: {p}" for p in problems]
    allowed_errors = gate.get("max_devices_with_errors")
    if allowed_errors is not None and with_errors > allowed_errors:
        failing.append(f"{with_errors} canary device(s) report errors (at most {allowed_errors})")
    report = {"gate": gate, "devices": devices, "passed": not failing}
    return GateVerdict(
        passed=not failing, summary="; ".join(failing)[:1500] or "within bounds", report=report
    )
