"""Keras callback methods for the energy sampler, free of any framework (see keras2 / keras3)."""
from minion_tf.callbacks.energy_config import EnergyConfig
from minion_tf.callbacks.energy_sampler import EnergySampler
from minion_tf.callbacks.rapl_reader import RAPL_ROOT


class EnergyHooks:
    """Mixin that drives an `EnergySampler` from `fit`'s hooks; put it before a Callback base.

    Per epoch it adds `energy_kwh`, `energy_counter_kwh`, `cpu_energy_kwh`, `power_kw`,
    `gpu_mem_peak_gib`, `rss_peak_gib` and `duration_s` to `logs` (so place it before
    CSVLogger / TensorBoard); `summary` has the same keys for the whole fit. Keras calls
    `on_train_end` only when `fit` returns, so after an exception call `close()` or use the
    callback as a context manager; otherwise the sampler thread ends with the next `fit`,
    when the callback is garbage-collected, or at exit.

    Example:
        >>> with EnergyCallback(EnergyConfig(csv_path="runs/x/energy.csv")) as energy:
        ...     model.fit(x, y, epochs=5, callbacks=[energy, CSVLogger("log.csv")])
        >>> energy.summary["energy_kwh"]
    """

    def __init__(self, config: EnergyConfig | None = None, *, nvml=None, rapl_root: str = RAPL_ROOT):
        super().__init__()
        self.sampler = EnergySampler(config, nvml=nvml, rapl_root=rapl_root)

    @property
    def summary(self) -> dict:
        return self.sampler.summary

    def on_train_begin(self, logs=None):
        self.sampler.start()

    def on_epoch_begin(self, epoch, logs=None):
        self.sampler.begin_epoch(epoch)

    def on_epoch_end(self, epoch, logs=None):
        figures = self.sampler.end_epoch()
        if logs is not None:
            logs.update(figures)

    def on_train_end(self, logs=None):
        self.sampler.stop()

    def close(self) -> dict:
        """Stop sampling (idempotent) and return the summary of what was measured."""
        return self.sampler.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
