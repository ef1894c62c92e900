"""``kwsq deploy``: a run's model as a streaming keyword detector for a device.

Builds ``tflm_port/apps/detector`` for the run: the C feature front-end fed by the run's
``frontend.h``, a ring of quantized frames (or, for a run trained with per-clip feature
normalization, of raw frames with running sums: each input normalized over its window),
the .tflite on kwsq's runtime and the detection rules of ``kwsq eval``'s streaming path
(``pipeline.evaluate.det``), with the run's keyword columns and the evaluation's input
windowing (``pipeline.evaluate.streaming.windowing``).
On an emulated board the firmware reads a WAV through semihosting one hop at a time, as a
microphone driver delivers audio, prints its detections with their times, and counts the
instructions of the front-end and of the model separately: ``--wav`` runs it and reports
instructions per hop, the duty cycle at the core's typical clock, RAM and flash.
``--compare`` also runs the Python streaming path on the same .tflite and WAV and checks
that the detections are the same.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.atomic import write_text
from pipeline.device.targets import TARGETS as TARGET_SPECS
from pipeline.errors import KwsqError
from pipeline.paths import PORT_DIR

APP_DIR = PORT_DIR / "apps" / "detector"
TARGETS = ("host", "m4", "m7", "m55", "a64", "a32")
USER_MODE = ("a64", "a32")
MACHINES = {"m4": "mps2-an386", "m7": "mps2-an500", "m55": "mps3-an547"}
DEFAULT_THRESHOLD = 0.5
DEFAULT_ARENA_BYTES = 65536
QEMU_TIMEOUT_S = 1800.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="converted run folder (kwsq convert)")
    p.add_argument("--target", default="m4", choices=TARGETS, help="where it runs (default: m4)")
    p.add_argument("--fixed", action="store_true",
                   help="the front-end's fixed-point path, for cores without an FPU "
                   "(default: off)")
    p.add_argument("--no-fpu", action="store_true",
                   help="compile for the core without its FPU: soft float, implies --fixed "
                   "(default: off)")
    p.add_argument("--kernels", default="ref",
                   help="kernel folder of tflm_port/kernels for the boards (default: ref)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"detection threshold on the smoothed posterior (default: "
                   f"{DEFAULT_THRESHOLD})")
    p.add_argument("--keywords", help="comma-separated keywords (default: every command word "
                   "the model has a class for)")
    p.add_argument("--conv-hop", type=float, default=None,
                   help="seconds between inputs of models on whole clips (default: kwsq eval's, "
                   "0.1); stacked-frame DNNs get a new input every frame")
    p.add_argument("--arena", type=int, default=DEFAULT_ARENA_BYTES,
                   help=f"arena bytes (default: {DEFAULT_ARENA_BYTES})")
    p.add_argument("--wav", type=Path,
                   help="run the detector on this 16 kHz WAV and report (default: none)")
    p.add_argument("--compare", action="store_true",
                   help="with --wav: also run kwsq eval's streaming path and compare "
                   "(default: off)")
    p.add_argument("--compare-features", action="store_true",
                   help="only compare the C front-end (both paths) with the Python features on "
                   "the run's test split, and the model's accuracy fed by each (default: off)")
    p.add_argument("--out", type=Path, help="write the report as JSON to this file (default: none)")


@dataclass
class DetectorSettings:
    """What the detector needs besides the model and the front-end."""

    keywords: list[str]
    columns: list[int]
    hop_frames: int
    smooth_windows: int
    threshold: float
    refractory_seconds: float
    hop_seconds: float


def detector_settings(run: Any, threshold: float = DEFAULT_THRESHOLD,
                      keywords: list[str] | None = None,
                      conv_hop_seconds: float | None = None) -> DetectorSettings:
    """Keyword columns, windowing and rules, as ``kwsq eval``'s streaming path sets them."""
    from pipeline.data import loader
    from pipeline.data.features import FeatureConfig
    from pipeline.data.gsc import COMMANDS
    from pipeline.evaluate import det, streaming
    from pipeline.evaluate.evaluate import keyword_columns

    cfg = run.read_config()
    data_cfg = loader.DataConfig.from_dict(cfg.data)
    classes = run.read_metrics().get("classes") or loader.class_names(data_cfg)
    cols = keyword_columns(classes, data_cfg.label_mode, data_cfg.keyword, keywords,
                           list(COMMANDS))
    feat = FeatureConfig.from_dict(cfg.features)
    if conv_hop_seconds is not None and conv_hop_seconds <= 0:
        raise KwsqError("--conv-hop must be > 0 seconds")
    win = streaming.windowing(feat, data_cfg.clip_samples,
                              streaming.CONV_HOP_SECONDS if conv_hop_seconds is None
                              else conv_hop_seconds)
    rules = det.DEFAULT_RULES
    return DetectorSettings(list(cols), list(cols.values()), win.hop_frames,
                            det.window_frames(rules.smooth_seconds, win.hop_seconds),
                            float(threshold), rules.refractory_seconds, win.hop_seconds)


def _c_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def detector_header(s: DetectorSettings, input_element_bytes: int) -> str:
    if not s.keywords:
        raise KwsqError("no keyword to detect")
    return "\n".join([
        "/* Detector settings written by kwsq deploy (the rules of kwsq eval's streaming path);"
        " do not edit. */",
        "#ifndef KWSQ_DETECTOR_CONFIG_H", "#define KWSQ_DETECTOR_CONFIG_H", "",
        f"#define KWSQ_DET_NUM_KEYWORDS {len(s.keywords)}",
        f"#define KWSQ_DET_COLUMNS {{{', '.join(str(c) for c in s.columns)}}}",
        f"#define KWSQ_DET_NAMES {{{', '.join(_c_string(k) for k in s.keywords)}}}",
        f"#define KWSQ_DET_HOP_FRAMES {s.hop_frames}",
        f"#define KWSQ_DET_SMOOTH_WINDOWS {s.smooth_windows}",
        f"#define KWSQ_DET_THRESHOLD {float(s.threshold)!r}",
        f"#define KWSQ_DET_REFRACTORY_SECONDS {float(s.refractory_seconds)!r}",
        f"#define KWSQ_DET_INPUT_ELEMENT_BYTES {input_element_bytes}", "",
        "#endif", ""])


def generate(run: Any, gen_dir: Path, settings: DetectorSettings) -> Path:
    """model.c/.h, model_ops.c (the model's op list: the firmware links only those ops),
    frontend.h and detector_config.h for one run in ``gen_dir``."""
    from pipeline.data.features import FeatureConfig
    from pipeline.tflite import export_c, export_frontend

    model_path = run.tflite_path
    if not model_path.is_file():
        raise KwsqError(f"{run.path} has no model.tflite; convert it first (kwsq convert)")
    mode = FeatureConfig.from_dict(run.read_config().features).normalize
    if mode not in export_frontend.C_NORMALIZE:
        raise KwsqError(f"the C front-end does not implement the run's feature normalization "
                        f"'{mode}' (it implements {', '.join(export_frontend.C_NORMALIZE)}); "
                        "kwsq eval can still score the model in Python")
    data = model_path.read_bytes()
    gen_dir.mkdir(parents=True, exist_ok=True)
    _write_if_changed(gen_dir, export_c.c_sources(data, "kwsq_model", "model.h",
                                                  f"deployed from {run.path}"))
    ops = export_c.op_list_source(data, description=f"deployed from {run.path}")
    ops_path = gen_dir / "model_ops.c"
    if not ops_path.is_file() or ops_path.read_text() != ops:
        write_text(ops_path, ops)
    header = export_frontend.export_run_frontend(run, data, gen_dir / "model.tflite")
    quant = export_frontend.input_quant(data)
    element = {0: 4, 7: 2, 9: 1}[quant.type_code]
    text = detector_header(settings, element)
    path = gen_dir / "detector_config.h"
    if not path.is_file() or path.read_text() != text:
        write_text(path, text)
    return header.parent


def _write_if_changed(gen_dir: Path, sources: tuple[str, str]) -> None:
    for name, text in zip(("model.h", "model.c"), sources, strict=True):
        path = gen_dir / name
        if not path.is_file() or path.read_text() != text:
            write_text(path, text)


def build(run: Any, target: str = "m4", fixed: bool = False, no_fpu: bool = False,
          settings: DetectorSettings | None = None, arena_bytes: int = DEFAULT_ARENA_BYTES,
          kernels: str = "ref") -> Path:
    """Build the detector for ``target``; the executable (host) or ELF (boards)."""
    if target not in TARGETS:
        raise KwsqError(f"unknown target '{target}': expected one of {', '.join(TARGETS)}")
    settings = settings or detector_settings(run)
    fixed = fixed or no_fpu
    if not (PORT_DIR / "kernels" / kernels).is_dir():
        raise KwsqError(f"no kernel folder tflm_port/kernels/{kernels}")
    kernels = "ref" if target == "host" else kernels
    variant = (target + ("-fixed" if fixed else "") + ("-nofpu" if no_fpu else "")
               + ("" if kernels == "ref" else f"-{kernels}"))
    root = run.path / "deploy"
    gen = generate(run, root / "gen", settings)
    build_dir = root / variant
    cmd = ["make", "-s", "--no-print-directory", "-j2", "-C", str(APP_DIR),
           f"TARGET={target}", f"GEN={gen.resolve()}", f"BUILD={build_dir.resolve()}",
           f"FIXED={int(fixed)}", f"NOFPU={int(no_fpu)}", f"ARENA_BYTES={arena_bytes}",
           f"KERNELS={kernels}"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr + proc.stdout).strip().splitlines()[-15:])
        raise KwsqError(f"building the {target} detector failed:\n{tail}")
    return build_dir / ("kwsq-detect" if target == "host" else "detector.elf")


@dataclass
class Detection:
    keyword: str
    end_sample: int
    score: float

    def seconds(self, sample_rate: int = 16000) -> float:
        return self.end_sample / sample_rate


@dataclass
class DetectorRun:
    """What one detector run printed."""

    detections: list[Detection] = field(default_factory=list)
    hops: int = 0
    windows: int = 0
    arena_bytes: int = 0
    frontend_state_bytes: int = 0
    ring_bytes: int = 0
    fe_instructions: int = 0
    fe_max: int = 0
    model_instructions: int = 0
    model_max: int = 0
    det_instructions: int = 0  # posteriors through the detector rules, per window
    det_max: int = 0
    posteriors: list[tuple[int, list[float]]] = field(default_factory=list)


def parse_output(text: str) -> DetectorRun:
    out = DetectorRun()
    done = False
    errors = []
    for line in text.splitlines():
        if not line.startswith("KWSQ "):
            continue
        f = line.split()
        kind = f[1]
        if kind == "DETECT":
            out.detections.append(Detection(f[3], int(f[4]), int(f[5]) / 1e6))
        elif kind == "MEMORY":
            out.arena_bytes, out.frontend_state_bytes, out.ring_bytes = map(int, f[2:5])
        elif kind == "HOPS":
            out.hops, out.windows = int(f[2]), int(f[3])
        elif kind == "COST":
            out.fe_instructions, out.fe_max = int(f[3]), int(f[4])
            out.model_instructions, out.model_max = int(f[6]), int(f[7])
            if len(f) >= 11 and f[8] == "det":
                out.det_instructions, out.det_max = int(f[9]), int(f[10])
        elif kind == "POST":
            out.posteriors.append((int(f[2]), [int(v) / 1e6 for v in f[3:]]))
        elif kind == "ERROR":
            errors.append(line[len("KWSQ ERROR "):])
        elif kind == "DONE":
            done = True
    if errors or not done:
        raise KwsqError("the detector failed: " + ("; ".join(errors) or "no KWSQ DONE line"))
    return out


def run_detector(exe: Path, target: str, wav: Path, verbose: bool = False,
                 timeout_s: float = QEMU_TIMEOUT_S) -> DetectorRun:
    """Run a built detector on a WAV file (natively or under QEMU with -icount)."""
    wav = Path(wav)
    if not wav.is_file():
        raise KwsqError(f"WAV file not found: {wav}")
    if target == "host":
        cmd = [str(exe), str(wav)] + (["-v"] if verbose else [])
    elif target in USER_MODE:
        from pipeline.device import targets

        proc = subprocess.run(["make", "-s", "--no-print-directory", "-C",
                               str(targets.BOARDS_DIR), "plugin", f"TARGET={target}",
                               f"BUILD_ROOT={targets.BUILD_ROOT}"], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            raise KwsqError(f"building the instruction-counting plugin failed: "
                            f"{proc.stderr.strip()[-300:]}")
        cmd = targets.qemu_command(target, exe) + [str(wav.resolve())]
    else:
        if " " in str(wav.resolve()):
            raise KwsqError(f"the WAV path must not contain spaces (QEMU -append): {wav}")
        cmd = ["qemu-system-arm", "-M", MACHINES[target], "-nographic", "-monitor", "none",
               "-serial", "null", "-semihosting-config", "enable=on,target=native",
               "-icount", "shift=7", "-kernel", str(exe), "-append",
               ("-v " if verbose else "") + str(wav.resolve())]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise KwsqError(f"the detector did not finish {wav.name} in {timeout_s:.0f} s") from exc
    return parse_output(proc.stdout + proc.stderr)


def footprint(elf: Path) -> dict[str, int]:
    """Flash and static RAM of a firmware image (``arm-none-eabi-size -A``)."""
    from pipeline.device.targets import parse_size_a

    text = subprocess.run(["arm-none-eabi-size", "-A", str(elf)], capture_output=True,
                          text=True, check=True).stdout
    s = parse_size_a(text)
    flash = sum(s.get(k, 0) for k in (".vectors", ".text", ".rodata", ".ARM.exidx", ".data"))
    return {"flash_bytes": flash, "static_ram_bytes": s.get(".data", 0) + s.get(".bss", 0),
            "stack_bytes_reserved": s.get(".stack", 0)}


def cost_report(r: DetectorRun, target: str, hop_seconds: float,
                hop_frames: int = 1) -> dict[str, float]:
    """Instructions per hop (front-end, model, detector rules) and the duty cycle at the
    typical clock.

    ``hop_frames``: hops between model windows (1 for the stacked DNNs, k for a conv model's
    1 s window every k hops). The per-hop figures are the steady state, front-end every hop
    and one window every ``hop_frames`` hops (a recording's first hops only fill the window:
    ``windows_per_hop`` is what this recording averaged). The duty cycle (= real-time
    factor: compute time / audio time) counts one instruction per cycle, a lower bound: a
    Cortex-M4 runs such code at roughly 1.2-1.4 cycles per instruction, reported as the
    second figure.
    """
    hops = max(1, r.hops)
    windows = max(1, r.windows)
    fe = r.fe_instructions / hops
    model_per_window = r.model_instructions / windows
    det_per_window = r.det_instructions / windows
    clock = TARGET_SPECS[target].clock_hz  # the same typical clock as kwsq bench
    per_hop = fe + (model_per_window + det_per_window) / hop_frames
    return {
        "fe_instructions_per_hop": round(fe, 1),
        "fe_instructions_max": r.fe_max,
        "model_instructions_per_window": round(model_per_window, 1),
        "model_instructions_max": r.model_max,
        "detector_instructions_per_window": round(det_per_window, 1),
        "detector_instructions_max": r.det_max,
        "hops_per_window": hop_frames,
        "windows_per_hop": round(r.windows / hops, 4),
        "instructions_per_hop": round(per_hop, 1),
        "clock_mhz": clock / 1e6,
        "hop_ms": round(hop_seconds * 1000, 3),
        "duty_cycle": round(per_hop / (clock * hop_seconds), 4),
        "duty_cycle_cpi_1.3": round(1.3 * per_hop / (clock * hop_seconds), 4),
        "worst_hop_ms": round((r.fe_max + r.model_max + r.det_max) / clock * 1000, 3),
    }


def probe_wav(path: Path, settings: DetectorSettings, sample_rate: int, clip_samples: int,
              seed: int = 0) -> Path:
    """A seeded test recording for cost measurement: long enough for the first model window
    and 40 more, noise with a few tone bursts (the float front-end's and the int8 kernels'
    instruction counts hardly depend on the audio; ``--wav`` measures a real recording)."""
    import wave

    import numpy as np

    hop = settings.hop_seconds / settings.hop_frames
    seconds = clip_samples / sample_rate + 40 * settings.hop_frames * hop
    n = int(seconds * sample_rate)
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.05, n)
    t = np.arange(n) / sample_rate
    for start in np.arange(0.3, seconds, 0.7):
        burst = (t >= start) & (t < start + 0.25)
        x[burst] += 0.3 * np.sin(2 * np.pi * (300 + 200 * start) * t[burst])
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    tmp.replace(path)
    return path


def per_hop_cost(run: Any, target: str, kernels: str, wav: Path | None = None,
                 conv_hop_seconds: float | None = None, fixed: bool = False) -> dict[str, Any]:
    """The streaming detector's cost on ``target``: front-end per hop, model and detector
    rules per window, the steady-state duty cycle, RAM (arena + front-end state + frame
    ring) and flash; ``kwsq bench --per-hop`` prints it."""
    from pipeline.data.features import FeatureConfig

    if target == "host":
        raise KwsqError("the per-hop cost needs an emulated target, not host")
    settings = detector_settings(run, conv_hop_seconds=conv_hop_seconds)
    exe = build(run, target, fixed=fixed, settings=settings, kernels=kernels)
    cfg = run.read_config()
    feat = FeatureConfig.from_dict(cfg.features)
    if wav is None:
        wav = probe_wav(exe.parent / "probe.wav", settings, feat.sample_rate,
                        int(cfg.data.get("clip_samples", 16000)))
    res = run_detector(exe, target, wav)
    hop_s = settings.hop_seconds / settings.hop_frames
    out: dict[str, Any] = cost_report(res, target, hop_s, settings.hop_frames)
    out["ram"] = {"arena": res.arena_bytes, "frontend_state": res.frontend_state_bytes,
                  "frame_ring": res.ring_bytes,
                  "total": res.arena_bytes + res.frontend_state_bytes + res.ring_bytes}
    if target not in USER_MODE:
        out["footprint"] = footprint(exe)
    out["wav"] = str(wav)
    out["fixed_point"] = fixed
    return out


def python_detections(run: Any, wav: Path, settings: DetectorSettings,
                      backend: str = "tflm") -> list[Detection]:
    """Detections of ``kwsq eval``'s streaming path on one WAV (same .tflite, same rules)."""
    from pipeline.data.features import FeatureConfig
    from pipeline.evaluate import backends, det, streaming

    cfg = run.read_config()
    feat = FeatureConfig.from_dict(cfg.features)
    rec = streaming.Recording(Path(wav).stem, Path(wav), [], {})
    scorer = backends.tflite_scorer(backend, run.tflite_path)
    columns = dict(zip(settings.keywords, settings.columns, strict=True))
    conv_hop = settings.hop_frames * feat.hop_samples / feat.sample_rate
    sp = streaming.posteriors([rec], [scorer], feat, columns,
                              int(cfg.data.get("clip_samples", 16000)), conv_hop,
                              log=lambda *_: None)
    times = sp.times[0]
    post = sp.posteriors[scorer.name][0]
    out = []
    for k, word in enumerate(settings.keywords):
        s = det.smooth(post[:, k], settings.smooth_windows)
        for t in det.detect(s, times, settings.threshold, settings.refractory_seconds):
            out.append(Detection(word, int(round(times[t] * feat.sample_rate)), float(s[t])))
    return sorted(out, key=lambda d: (d.end_sample, d.keyword))


def same_detections(a: list[Detection], b: list[Detection]) -> bool:
    key = lambda d: (d.end_sample, d.keyword)  # noqa: E731
    return sorted(map(key, a)) == sorted(map(key, b))


def run(args: argparse.Namespace) -> int:
    from pipeline.train.runs import Run

    r = Run(args.run)
    r.require()
    if args.compare_features:
        from pipeline.device.frontend import compare_run

        result = compare_run(r)
        if args.out:
            write_text(args.out, json.dumps(result, indent=2) + "\n")
        return 0
    keywords = [k.strip() for k in args.keywords.split(",")] if args.keywords else None
    settings = detector_settings(r, args.threshold, keywords, args.conv_hop)
    exe = build(r, args.target, args.fixed, args.no_fpu, settings, args.arena, args.kernels)
    print(f"deploy: built {exe}")
    report: dict[str, Any] = {"target": args.target, "fixed_point": args.fixed or args.no_fpu,
                              "no_fpu": args.no_fpu, "settings": asdict(settings),
                              "executable": str(exe)}
    if args.target not in ("host", *USER_MODE):
        report["footprint"] = footprint(exe)
        report["footprint"]["model_bytes"] = r.tflite_path.stat().st_size
        print(f"deploy: flash {report['footprint']['flash_bytes']:,} B (model "
              f"{report['footprint']['model_bytes']:,} B)")
    if args.wav:
        res = run_detector(exe, args.target, args.wav)
        report["hops"], report["windows"] = res.hops, res.windows
        report["ram"] = {"arena": res.arena_bytes, "frontend_state": res.frontend_state_bytes,
                         "frame_ring": res.ring_bytes,
                         "total": res.arena_bytes + res.frontend_state_bytes + res.ring_bytes}
        report["detections"] = [asdict(d) for d in res.detections]
        for d in res.detections:
            print(f"deploy: {d.seconds():9.3f} s  {d.keyword:<8s} score {d.score:.4f}")
        print(f"deploy: {res.hops} hops, {res.windows} model windows, {len(res.detections)} "
              f"detections; RAM arena {res.arena_bytes:,} + front-end {res.frontend_state_bytes:,}"
              f" + frame ring {res.ring_bytes:,} B")
        if args.target != "host":
            cost = cost_report(res, args.target, settings.hop_seconds / settings.hop_frames,
                               settings.hop_frames)
            report["cost"] = cost
            print(f"deploy: per {cost['hop_ms']:g} ms hop: front-end "
                  f"{cost['fe_instructions_per_hop']:,.0f} instructions, model "
                  f"{cost['model_instructions_per_window']:,.0f} + detector "
                  f"{cost['detector_instructions_per_window']:,.0f} per window every "
                  f"{cost['hops_per_window']} hop(s): {cost['instructions_per_hop']:,.0f} per "
                  f"hop; duty cycle at "
                  f"{cost['clock_mhz']:g} MHz {cost['duty_cycle']:.3f} (1 cycle/instruction), "
                  f"{cost['duty_cycle_cpi_1.3']:.3f} at 1.3")
        if args.compare:
            ref = python_detections(r, args.wav, settings)
            same = same_detections(res.detections, ref)
            report["python_detections"] = [asdict(d) for d in ref]
            report["same_as_python"] = same
            print(f"deploy: kwsq eval's streaming path finds {len(ref)} detections; "
                  f"{'the same' if same else 'DIFFERENT'}")
    if args.out:
        write_text(args.out, json.dumps(report, indent=2) + "\n")
    return 0


__all__ = ["build", "run_detector", "python_detections", "detector_settings", "cost_report",
           "same_detections", "footprint", "per_hop_cost", "probe_wav"]
