"""The contenders: where each one's interpreter is, how its state folder is set up, and
the settings it runs with. Nothing here imports a peer: each runs in its own venv."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS_DIR = ROOT / "benchmarks" / "workloads"
BENCH_DIR = ROOT / ".bench"
POSTGRES_URL = os.environ.get("LEGATO_BENCH_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# No static graph to load and plan: the graph exists only as the flow runs.
NO_STATIC_GRAPH = "no static graph to load and plan: a flow's steps exist only as it runs"


@dataclass(frozen=True)
class Peer:
    name: str
    """Short name: the venv folder under .bench/ and the workload module's prefix."""
    label: str
    package: str
    """The distribution whose version is reported."""
    import_statement: str
    """What a user's pipeline file writes first; timed by the `import` workload."""
    settings: str
    """The settings it runs with, as the report states them."""
    env: dict[str, str] = field(default_factory=dict)
    """Variables set for its processes; {state} stands for its state folder."""
    not_applicable: dict[str, str] = field(default_factory=dict)
    caps: dict[str, int] = field(default_factory=dict)
    """Smaller N for workloads that would take minutes at full size (metrics per step)."""
    cap_reason: str = ""
    module: str = ""
    uses_postgres: bool = False

    @property
    def venv(self) -> Path:
        return ROOT / ".venv" if self.name.startswith("legato") else BENCH_DIR / self.name

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def script(self) -> Path:
        return WORKLOADS_DIR / f"{self.module or self.name}_workloads.py"

    def environment(self, state: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LEGATO_", "PREFECT_", "DAGSTER_", "AIRFLOW", "DBOS_",
                                    "VIRTUAL_ENV", "PYTHON"))}
        env.update({k: v.format(state=state) for k, v in self.env.items()})
        return env

    def unavailable(self) -> str | None:
        """Why this peer cannot run here, or None."""
        if not self.python.exists():
            return "not installed: run `make bench-setup`"
        if not self.name.startswith("legato") and not (self.venv / ".installed").exists():
            return f"its install failed, see .bench/{self.name}.log"
        return None

    def version(self) -> str:
        try:
            out = subprocess.run(
                [str(self.python), "-c", "import importlib.metadata as m, sys; "
                 f"print(m.version({self.package!r}))"],
                capture_output=True, text=True, timeout=60, check=True)
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError) as error:
            return f"unknown ({error})"

    def prepare(self, state: Path) -> None:
        """A fresh state folder, set up as its docs tell a new local user to."""
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        if self.name == "dagster":
            (state / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        if self.name == "airflow":
            subprocess.run([str(self.venv / "bin" / "airflow"), "db", "migrate"],
                           env=self.environment(state), check=True, timeout=600,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            dags = state / "dags"
            dags.mkdir()
            shutil.copy(self.script, dags / "bench_dags.py")


LEGATO = Peer(
    name="legato", label="legato", package="legato", import_statement="import legato as lg",
    settings="defaults: threads executor (8 lanes), SQLite store in a fresh home, "
    "durability=normal (WAL, synchronous=NORMAL)",
)
LEGATO_PG = Peer(
    name="legato-pg", label="legato (PostgreSQL)", package="legato", module="legato",
    import_statement="import legato as lg", uses_postgres=True,
    settings="threads executor, PostgreSQL 127.0.0.1 (a fresh schema), one process",
)

PEERS = [
    Peer(
        name="prefect", label="Prefect", package="prefect",
        import_statement="from prefect import flow, task",
        settings="defaults: no server configured, so its ephemeral local server on SQLite in "
        "a fresh PREFECT_HOME; ThreadPoolTaskRunner; analytics off",
        env={"PREFECT_HOME": "{state}", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
        not_applicable={"wide-graph": NO_STATIC_GRAPH},
    ),
    Peer(
        name="dagster", label="Dagster", package="dagster",
        import_statement="import dagster as dg",
        settings="execute_in_process (in-process executor) on the persistent instance of a "
        "fresh DAGSTER_HOME (SQLite run and event storage); telemetry off",
        env={"DAGSTER_HOME": "{state}"},
    ),
    Peer(
        name="airflow", label="Airflow", package="apache-airflow",
        import_statement="from airflow.sdk import dag, task",
        settings="dag.test() (tasks run in this process, no scheduler) on a SQLite metadata "
        "database created by `airflow db migrate` in a fresh AIRFLOW_HOME; examples off",
        env={"AIRFLOW_HOME": "{state}", "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
             "AIRFLOW__CORE__DAGS_FOLDER": "{state}/dags"},
        caps={"chain": 200, "fanout": 200},
        cap_reason="N=200 for chain and fanout: dag.test() re-examines every task instance "
        "of the run before each step, so its time per step grows with N (98 ms at N=100, "
        "270 ms at N=300 here) and one run of N=1000 would take about 15 minutes; its "
        "per-step figures at N=200 flatter it",
    ),
    Peer(
        name="dbos", label="DBOS", package="dbos", import_statement="from dbos import DBOS",
        settings="SQLite system database (its default) in a fresh folder; queue with its "
        "default 1 s polling interval for the fan-out",
        not_applicable={"wide-graph": NO_STATIC_GRAPH,
                        "cli": "its CLI (dbos workflow list) is not written for this "
                        "benchmark yet"},
    ),
]
