"""The light install (`pip install minion_tf`: callbacks core and metrics) never imports a framework."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Top-level names of the [models] extra (and torch): none may load for the light part.
HEAVY = ("tensorflow", "tf_keras", "keras", "transformers", "fasttext", "tensorflow_datasets", "tokenizers",
         "huggingface_hub", "safetensors", "pandas", "wordsegment", "tqdm", "torch")

SCRIPT = textwrap.dedent("""
    import math, sys, warnings
    from pathlib import Path

    HEAVY = set(sys.argv[2].split(","))
    assert not HEAVY & {name.split(".")[0] for name in sys.modules}, "loaded before the test began"

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HEAVY:
                raise ModuleNotFoundError(f"blocked: {name}", name=name)
            return None

    sys.meta_path.insert(0, Block())
    out = Path(sys.argv[1])

    import minion_tf
    from minion_tf.callbacks import CalibrationMonitor, EnergyConfig, EnergySampler
    from minion_tf.metrics import ace, ece, mce
    from minion_tf.metrics.task_metrics import glue_metrics

    # Equal-width bins (K = 2): {0.1, 0.2} conf 0.15, positives 1/2, gap 0.35; {0.6, 0.7, 0.9} conf 11/15,
    # positives 2/3, gap 1/15. Equal-count bins (3 + 2): {0.1, 0.2, 0.6} conf 0.3, 1/3, gap 1/30;
    # {0.7, 0.9} conf 0.8, 1, gap 0.2.
    p, y = [0.1, 0.2, 0.6, 0.7, 0.9], [0, 1, 0, 1, 1]
    assert math.isclose(mce(p, y, num_bins=2), 0.35)
    assert math.isclose(ece(p, y, num_bins=2), (2 * 0.35 + 3 / 15) / 5)
    assert math.isclose(ace(p, y, num_bins=2), (1 / 30 + 0.2) / 2)
    assert glue_metrics("mrpc", [1, 0, 1, 1], [1, 0, 0, 1]) == {"f1": 0.8, "accuracy": 0.75}

    monitor = CalibrationMonitor(num_bins=2, out_dir=out / "calibration")
    logs = monitor.score(0, p, y)
    assert math.isclose(logs["val_ace"], (1 / 30 + 0.2) / 2) and math.isclose(logs["val_mce"], 0.35)
    summary = monitor.finish()
    assert summary["temperature"] > 0 and summary["val_nll_scaled"] <= summary["val_nll"] + 1e-9
    assert (out / "calibration" / "calibration_bins.json").is_file()
    assert (out / "calibration" / "reliability.png").stat().st_size > 0

    sampler = EnergySampler(EnergyConfig(interval_s=0.02, csv_path=out / "energy.csv"), rapl_root=out / "no-rapl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sampler.start()
        thread = sampler.thread
        sampler.begin_epoch(0)
        epoch = sampler.end_epoch()
        fit = sampler.stop()
    assert any("EnergySampler" in str(w.message) and "NaN" in str(w.message) for w in caught), caught
    assert not thread.is_alive()
    assert math.isnan(epoch["energy_kwh"]) and math.isnan(fit["energy_kwh"]) and math.isnan(fit["gpu_mem_peak_gib"])
    assert fit["duration_s"] >= 0 and fit["rss_peak_gib"] > 0
    assert len((out / "energy.csv").read_text().splitlines()) >= 5  # header + start, epoch begin/end, stop

    loaded = HEAVY & {name.split(".")[0] for name in sys.modules}
    assert not loaded, loaded
    print("light core ok")
""")


def test_light_core_imports_no_framework(tmp_path):
    # No visible GPU, whether or not NVML is there: the sampler must warn and give NaN.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), ",".join(HEAVY)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "light core ok"
