"""Simulated H100s, as the DCGM exporter reports them, driven by the replicas' batches.

Utilisation follows the running batch of the replicas on the GPU; power follows
utilisation; temperature chases a target with thermal inertia. A "gpu_hot" incident
pins the GPU (a runaway kernel, a failed fan): it heats past 85 °C, draws near the
700 W limit, throttles its SM clock (which slows its replica), and reports an XID.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from watchdeck.demo.replica import Replica

MODEL_NAME = "NVIDIA H100 80GB HBM3"
DRIVER_VERSION = "550.90.07"
HOSTNAME = "gpu-node-01"
FB_TOTAL_MIB = 81559
FB_RESERVED_MIB = 512
GPU_MEMORY_UTILIZATION = 0.9    # vLLM preallocates this share of memory at start-up
MAX_SM_CLOCK = 1980             # MHz
THROTTLED_SM_CLOCK = 1410
MEM_CLOCK = 2619
IDLE_POWER = 72.0               # W
LOADED_POWER = 520.0            # W added at 100 % utilisation
THROTTLE_TEMP = 87.0
HOT_XID = 94                    # "Contained ECC error"
XID_MESSAGES = {0: "No Error", HOT_XID: "Contained ECC error"}
_THERMAL_TAU = 15.0             # scenario seconds
_UTIL_TAU = 2.0                 # seconds


@dataclass
class GpuIdentity:
    index: int
    uuid: str
    pci_bus_id: str


class Gpu:
    def __init__(self, index: int, replicas: list[int], rng: random.Random) -> None:
        u = rng.getrandbits(128)
        hexed = f"{u:032x}"
        uuid = (f"GPU-{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}"
                f"-{hexed[20:]}")
        bus = (0x18, 0x2A, 0x3A, 0x5D, 0x9A, 0xAB, 0xBA, 0xDB)[index % 8]
        self.identity = GpuIdentity(index, uuid, f"00000000:{bus:02X}:00.0")
        self.replicas = replicas
        self._rng = rng
        self.util = 0.0
        self.temp = 34.0 + rng.uniform(-2, 2)
        self.power = IDLE_POWER
        self.sm_clock = MAX_SM_CLOCK
        self.fb_used = float(int(FB_TOTAL_MIB * GPU_MEMORY_UTILIZATION))
        self.xid = 0
        self._offset = rng.uniform(-3.0, 3.0)   # boards differ a little

    @property
    def throttled(self) -> bool:
        return self.sm_clock < MAX_SM_CLOCK

    def step(self, dt: float, scenario_dt: float, replicas: list[Replica],
             hot_progress: float | None) -> None:
        busy = 0.0
        for replica in replicas:
            if replica.running:
                busy = max(busy, min(1.0, 0.35 + 1.3 * len(replica.running)
                                     / replica.spec.max_num_seqs))
        target_util = 100.0 * busy
        if hot_progress is not None:
            target_util = 100.0
        keep = math.exp(-dt / _UTIL_TAU)
        self.util = self.util * keep + target_util * (1 - keep)

        noise = self._rng.gauss(0.0, 4.0)
        self.power = IDLE_POWER + LOADED_POWER * self.util / 100 + noise
        target_temp = 31.0 + 0.42 * self.util + self._offset
        if hot_progress is not None:
            self.power += 95.0
            target_temp = 92.0 + self._offset / 2
        self.power = min(699.0, max(IDLE_POWER / 2, self.power))
        keep = math.exp(-scenario_dt / _THERMAL_TAU)
        self.temp = self.temp * keep + target_temp * (1 - keep) + self._rng.gauss(0.0, 0.15)
        self.sm_clock = THROTTLED_SM_CLOCK if self.temp >= THROTTLE_TEMP else MAX_SM_CLOCK
        # The XID shows up once the hot spell has lasted a while and clears with it (the
        # demo's simplification of "last XID seen recently").
        self.xid = HOT_XID if hot_progress is not None and hot_progress >= 0.5 else 0
        activations = sum(len(r.running) for r in replicas) * 9.0
        self.fb_used = (int(FB_TOTAL_MIB * GPU_MEMORY_UTILIZATION) + activations
                        + self._rng.uniform(0, 40))

    @property
    def fb_free(self) -> float:
        return FB_TOTAL_MIB - FB_RESERVED_MIB - self.fb_used
