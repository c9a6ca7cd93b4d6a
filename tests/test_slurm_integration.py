"""`snakemake --profile slurm` on a real one-node SLURM, compared with a local run.

The cluster (tests/slurm/cluster.sh: Debian's Slurm, munge, four placeholder GPUs) needs root and
apt-get, as in CI; elsewhere those tests skip and only the profile checks run. It starts once per
pytest run (a session fixture, on the one xdist worker of its group) and its teardown waits until
its daemons have exited. The study runs in
a scratch copy of the repository with the user's command on the test config (config/test.yaml),
with only environment overrides, and must give byte for byte the local test study's results.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import REPO
from snakemake.profiles import ProfileConfigFileParser
from study import PROFILES, TEST_CONFIG, run, start, workflow_rules

CLUSTER = REPO / "tests" / "slurm" / "cluster.sh"
SLURM_CONF = Path("/etc/slurm/slurm.conf")
LOCK = Path("/run/lock/cdga-slurm-test.lock")
# The test node has twice this machine's cores and four GPUs: site settings sized to it, fast polling.
SITE_ENV = {
    "CDGA_SLURM_PARTITION": "debug",
    "CDGA_SLURM_GPU_CPUS": "1",
    "CDGA_SLURM_GPU_MEM_MB": "2000",
    "CDGA_SLURM_MEM_MB": "1000",
    "CDGA_SLURM_STATUS_SECONDS": "5",
}
# Run logs and timings differ between runs; every other file under results/ must be byte-identical.
NOT_COMPARED = ("logs/", "benchmarks/")


def read_profile(name: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict:
    """The profile as Snakemake parses it (yte templating, env expansion) under ``env``."""
    for key in [k for k in os.environ if k.startswith("CDGA_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with open(PROFILES / name / "config.yaml") as stream:
        return ProfileConfigFileParser().parse(stream)


def rule_resources(profile: dict) -> dict[str, dict[str, str]]:
    """set-resources as {rule: {resource: value}}."""
    rules: dict[str, dict[str, str]] = {}
    for item in profile.get("set-resources", []):
        rule, assignment = item.split(":", 1)
        key, value = assignment.split("=", 1)
        rules.setdefault(rule, {})[key] = value
    return rules


def gpu_rules(profile: dict) -> set[str]:
    return {rule for rule, res in rule_resources(profile).items() if res.get("gpu") == "1"}


# --- the profiles (no cluster needed) -----------------------------------------------------------


def test_slurm_profile_reads_site_values_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    bare = read_profile("slurm", {}, monkeypatch)
    assert bare["executor"] == "slurm"
    assert bare["slurm-status-command"] == "squeue"
    assert not any(r.startswith(("slurm_partition=", "slurm_account="))
                   for r in bare["default-resources"])
    assert not any("slurm_partition=" in r for r in bare["set-resources"])

    site = read_profile("slurm", {"CDGA_SLURM_PARTITION": "cpu", "CDGA_SLURM_GPU_PARTITION": "gpu",
                                  "CDGA_SLURM_ACCOUNT": "proj42", "CDGA_SLURM_GPU_CPUS": "6",
                                  "CDGA_SLURM_JOBS": "7"}, monkeypatch)
    assert {"slurm_partition=cpu", "slurm_account=proj42"} <= set(site["default-resources"])
    assert site["jobs"] == "7"
    for rule in gpu_rules(site):
        assert rule_resources(site)[rule]["slurm_partition"] == "gpu"
        assert rule_resources(site)[rule]["cpus_per_task"] == "6"

    one_partition = read_profile("slurm", {"CDGA_SLURM_PARTITION": "all"}, monkeypatch)
    assert {res["slurm_partition"] for res in rule_resources(one_partition).values()} == {"all"}


def test_profiles_name_real_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A renamed rule must not silently lose its GPU or group in either profile."""
    slurm = read_profile("slurm", {}, monkeypatch)
    local = read_profile("local", {}, monkeypatch)
    rules = workflow_rules(tmp_path)
    assert set(rule_resources(slurm)) <= rules
    assert {g.split("=")[0] for g in slurm.get("groups", [])} <= rules
    assert gpu_rules(slurm) == gpu_rules(local)
    assert "train_demo_ldm" in gpu_rules(slurm)
    for rule, res in rule_resources(slurm).items():
        assert {"runtime", "mem_mb", "cpus_per_task"} <= set(res), rule


def test_slurm_profile_groups_the_analyses_of_one_model(tmp_path: Path) -> None:
    """Planned with the slurm profile (no cluster needed): each selected model's adversarial and
    landscape jobs form one group job, each test domain's shift and t-SNE another."""
    dry = run(tmp_path, "-n", profile=PROFILES / "slurm", cores=None, env=os.environ | SITE_ENV)
    log = dry.stdout + dry.stderr
    plan, groups = job_stats(log), group_members(log)
    models = [m for g, m in groups.items() if g.startswith("model_")]
    domains = [m for g, m in groups.items() if g.startswith("domain_")]
    assert len(models) == plan["adversarial"] == plan["landscape"] > 1
    assert models == [Counter(["adversarial", "landscape"])] * len(models)
    assert len(domains) == plan["shift"] == plan["tsne"] >= 1
    assert domains == [Counter(["shift", "tsne"])] * len(domains)


# --- the one-node cluster -----------------------------------------------------------------------


def scratch_dir(name: str) -> Path:
    """A directory outside pytest's numbered temp dirs, which a concurrent pytest run may prune
    while the daemons and jobs still use them; the caller removes it."""
    return Path(tempfile.mkdtemp(prefix=f"cdga-slurm-{name}-"))


def cluster_unavailable() -> str | None:
    """Why this machine cannot host the test cluster, or None."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "the SLURM integration test needs root (CI runs it)"
    if not shutil.which("apt-get") and not shutil.which("slurmctld"):
        return "the SLURM integration test needs apt-get to install Slurm"
    if SLURM_CONF.exists() and "cdga tests/slurm/cluster.sh" not in SLURM_CONF.read_text():
        return f"{SLURM_CONF} belongs to a real cluster; not replacing it"
    return None


def cluster_script(action: str, state: Path) -> subprocess.CompletedProcess:
    """tests/slurm/cluster.sh ACTION STATE; fails the test with its output unless it succeeded."""
    done = subprocess.run(["bash", str(CLUSTER), action, str(state)], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, f"cluster {action} failed:\n{done.stdout}\n{done.stderr}"
    return done


def daemon_pids(state: Path) -> dict[str, int]:
    """The pids of the daemons that cluster.sh started from ``state``."""
    return {name: int((state / f"{name}.pid").read_text()) for name in ("slurmctld", "slurmd")
            if (state / f"{name}.pid").exists()}


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a container's init may not reap daemons)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


STARTS: list[Path] = []  # every cluster this pytest process started


@pytest.fixture(scope="session")
def cluster() -> Iterator[Path]:
    """The pytest run's one-node SLURM: started at the first test that needs it, reused by every
    later one, and stopped at the end of the session, waiting until its daemons have exited.
    A concurrent pytest run on this machine holds the lock: this one waits for it."""
    reason = cluster_unavailable()
    if reason:
        pytest.skip(reason)
    LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK, "w") as lock:
        signal.signal(signal.SIGALRM, lambda *_: pytest.fail("another pytest run held the test "
                                                             "cluster for 30 min"))
        signal.alarm(1800)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
        finally:
            signal.alarm(0)
        state = scratch_dir("state")
        try:
            cluster_script("start", state)
            STARTS.append(state)
            yield state
        finally:
            pids = daemon_pids(state)
            cluster_script("stop", state)
            assert not [p for p in pids.values() if alive(p)], f"daemons still run: {pids}"
            shutil.rmtree(state, ignore_errors=True)


def test_cluster_starts_once_and_is_reused(cluster: Path) -> None:
    """One start per pytest run: a second acquisition finds the running cluster and keeps it."""
    assert STARTS == [cluster]
    pids = daemon_pids(cluster)
    assert set(pids) == {"slurmctld", "slurmd"} and all(alive(p) for p in pids.values())
    again = cluster_script("start", cluster)
    assert "reused" in again.stdout
    assert daemon_pids(cluster) == pids and all(alive(p) for p in pids.values())
    assert subprocess.run(["scontrol", "ping"], capture_output=True, check=False).returncode == 0


def test_stop_waits_for_the_daemons_before_the_next_start(cluster: Path) -> None:
    """A stop returns only once slurmctld and slurmd have exited; the next start then brings up
    fresh daemons (the session's cluster keeps running afterwards, from the same state)."""
    old = daemon_pids(cluster)
    assert old and all(alive(p) for p in old.values())
    cluster_script("stop", cluster)
    assert not [p for p in old.values() if alive(p)]
    assert not daemon_pids(cluster)
    cluster_script("start", cluster)
    new = daemon_pids(cluster)
    assert set(new) == set(old) and all(alive(p) for p in new.values())
    assert not set(new.values()) & set(old.values())


def slurm_jobs(workdir: Path) -> list[dict[str, str]]:
    """scontrol's record of every job submitted from ``workdir`` (kept for MinJobAge)."""
    out = subprocess.run(["scontrol", "-o", "-d", "show", "job"], capture_output=True, text=True,
                         check=True).stdout
    records = [dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
               for line in out.splitlines() if line.startswith("JobId=")]
    return [r for r in records if r.get("WorkDir") == str(workdir)]


def job_stats(log: str) -> Counter:
    """The plan: the 'Job stats' table Snakemake prints before running."""
    table = log.split("Job stats:", 1)[1].split("total", 1)[0]
    return Counter({m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)})


def group_members(log: str) -> dict[str, Counter]:
    """Group id -> its member rules, from the 'Group job <id> (...):' blocks of the run's log
    (the member jobs' lines are indented below it; a dry run adds 'Shell command: ...' lines)."""
    groups = {}
    for found in re.finditer(r"Group job (\w+) \(.*\n((?:[ \t]+.*\n|\n|Shell command: .*\n)*)", log):
        groups[found[1]] = Counter(re.findall(r"^    rule (\w+):$", found[2], re.MULTILINE))
    return groups


def group_comment(group: str, members: Counter) -> str:
    """The plugin's sbatch comment of a group job: rule_<group id>_<its rules, sorted>."""
    return f"rule_{group}_{'_'.join(sorted(members))}"


def rule_of(comment: str) -> str:
    """The rule of a plain job from the plugin's sbatch comment rule_<name>[_wildcards_<...>]."""
    return re.fullmatch(r"rule_(.+?)(?:_wildcards_.*)?", comment)[1]


@pytest.fixture(scope="module")
def slurm_study(cluster: Path) -> Iterator[SimpleNamespace]:
    """`snakemake --profile slurm --configfile config/test.yaml` from a scratch repository copy."""
    root = scratch_dir("study")
    try:
        yield run_slurm_study(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_slurm_study(root: Path) -> SimpleNamespace:
    for name in ("workflow", "config", "profiles", "src"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "slurm").symlink_to("profiles/slurm")
    started = time.monotonic()
    proc = run(root, "--slurm-keep-successful-logs",  # the user's command, keeping job logs
               snakefile=None, profile="slurm", cores=None,
               configs=[TEST_CONFIG.relative_to(REPO)], env=os.environ | SITE_ENV,
               timeout=1800, check=False)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    print(f"SLURM study: {time.monotonic() - started:.0f} s")
    return SimpleNamespace(root=root, log=log, jobs=slurm_jobs(root))


def test_every_rule_ran_through_sbatch(slurm_study: SimpleNamespace,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    log, jobs = slurm_study.log, slurm_study.jobs
    plan = job_stats(log)
    submitted = Counter(re.findall(r"^rule (\w+):$", log, re.MULTILINE))
    in_groups = Counter(re.findall(r"^    rule (\w+):$", log, re.MULTILINE))
    local = Counter(re.findall(r"^localrule (\w+):$", log, re.MULTILINE))
    groups = Counter(re.findall(r"Group job (\w+) \(", log))
    assert plan and all(submitted[r] + in_groups[r] + local[r] == n for r, n in plan.items()), (
        plan, submitted, in_groups, local)

    assert jobs and all(j["JobState"] == "COMPLETED" and j["ExitCode"] == "0:0" for j in jobs)
    assert all(j["Partition"] == "debug" for j in jobs)
    group_jobs = [j for j in jobs if rule_of(j["Comment"]) not in plan]
    plain_jobs = [j for j in jobs if rule_of(j["Comment"]) in plan]
    assert Counter(rule_of(j["Comment"]) for j in plain_jobs) == submitted
    assert len({j["Comment"] for j in plain_jobs}) == len(plain_jobs)  # one job per wildcards
    assert len(group_jobs) == sum(groups.values())
    for g, n in groups.items():
        assert sum(j["Comment"].startswith(f"rule_{g}_") for j in group_jobs) == n
    assert not set(local) & gpu_rules(read_profile("slurm", SITE_ENV, monkeypatch))


def test_gpu_rules_got_a_gpu(slurm_study: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = gpu_rules(read_profile("slurm", SITE_ENV, monkeypatch))
    planned_gpu = gpu & set(job_stats(slurm_study.log))
    assert planned_gpu, "the test study runs no GPU rule"
    groups = {group_comment(g, m): set(m) for g, m in group_members(slurm_study.log).items()}
    ran = set()
    for job in slurm_study.jobs:
        rules = groups.get(job["Comment"], {rule_of(job["Comment"])})
        ran |= rules
        if rules & gpu:  # a GPU rule, or a group of them: one GPU for the whole SLURM job
            assert rules <= gpu, job
            assert job["JOB_GRES"] == "gpu:1" and job["TresPerJob"] == "gres:gpu:1", job
        else:
            assert job["JOB_GRES"] == "(null)", job
    assert ran >= planned_gpu


def test_analyses_of_one_model_ran_as_one_gpu_job(slurm_study: SimpleNamespace) -> None:
    """The slurm profile groups the short GPU analyses: adversarial and landscape of one selected
    model are one SLURM job, shift and t-SNE of one test domain another, each holding one GPU;
    inside it the analyses ran one after the other (the group's own log)."""
    plan = job_stats(slurm_study.log)
    groups = group_members(slurm_study.log)
    models = {g: m for g, m in groups.items() if g.startswith("model_")}
    domains = {g: m for g, m in groups.items() if g.startswith("domain_")}
    assert len(models) == plan["adversarial"] == plan["landscape"] > 1
    assert len(domains) == plan["shift"] == plan["tsne"] >= 1
    assert all(m == Counter(["adversarial", "landscape"]) for m in models.values())
    assert all(m == Counter(["shift", "tsne"]) for m in domains.values())
    plain = Counter(rule_of(j["Comment"]) for j in slurm_study.jobs)
    assert not {"adversarial", "landscape", "shift", "tsne"} & set(plain)
    jobs = {j["Comment"]: j for j in slurm_study.jobs}
    for group, members in {**models, **domains}.items():
        job = jobs[group_comment(group, members)]
        assert job["JobState"] == "COMPLETED" and job["TresPerJob"] == "gres:gpu:1", job
        logs = list((slurm_study.root / ".snakemake" / "slurm_logs").rglob(f"{job['JobId']}.log"))
        assert len(logs) == 1, (group, logs)
        inner = logs[0].read_text()  # the group job's own snakemake: its two member jobs
        started = list(re.finditer(r"^rule (\w+):$", inner, re.MULTILINE))
        assert Counter(m[1] for m in started) == members, inner[-3000:]
        first_done = inner.index("1 of 2 steps (50%) done")
        assert started[0].start() < first_done < started[1].start(), inner[-3000:]  # in turn
        assert "2 of 2 steps (100%) done" in inner, inner[-3000:]


def result_files(workdir: Path) -> dict[str, Path]:
    results = workdir / "results"
    return {str(p.relative_to(results)): p for p in sorted(results.rglob("*"))
            if p.is_file() and not str(p.relative_to(results)).startswith(NOT_COMPARED)}


def test_outputs_equal_local_run(slurm_study: SimpleNamespace, finished_study: Path) -> None:
    on_slurm, local = result_files(slurm_study.root), result_files(finished_study)
    assert set(on_slurm) == set(local)
    for stage in ("synthetic/", "assembly/", "train/", "analyses/", "models/"):
        assert any(name.startswith(stage) for name in on_slurm), stage
    differ = [name for name, path in on_slurm.items() if path.read_bytes() != local[name].read_bytes()]
    assert not differ


def test_slurm_study_runs_every_rule(slurm_study: SimpleNamespace, tmp_path: Path) -> None:
    """The test study exercises every rule (downloads need the real datasets)."""
    rules = {r for r in workflow_rules(tmp_path) if not r.startswith("prepare_")}
    assert set(job_stats(slurm_study.log)) == rules


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = scratch_dir("run")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_job_cancelled_from_outside_ends_the_run(cluster: Path, scratch: Path) -> None:
    """The profile's status checks see an scancel'ed job (sacct's 'CANCELLED by 0' would hang)."""
    (scratch / "Snakefile").write_text(
        'rule sleeper:\n    output: "never.txt"\n    shell: "sleep 600 && touch {output}"\n')
    log = scratch / "snakemake.log"
    snake = start(scratch, log=log, snakefile=None, configs=(), cores=None,
                  profile=PROFILES / "slurm", env=os.environ | SITE_ENV)
    cancelled = set()
    try:
        deadline = time.monotonic() + 300
        while snake.poll() is None and time.monotonic() < deadline:
            for job in slurm_jobs(scratch):
                if job["JobState"] in ("PENDING", "RUNNING") and job["JobId"] not in cancelled:
                    subprocess.run(["scancel", job["JobId"]], check=False)
                    cancelled.add(job["JobId"])
            time.sleep(2)
        assert snake.poll() is not None, "snakemake still waits for a cancelled job"
    finally:
        if snake.poll() is None:
            snake.kill()
        snake.wait()
    assert snake.returncode != 0
    assert cancelled and "SLURM status is: 'CANCELLED'" in log.read_text()
