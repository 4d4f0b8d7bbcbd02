"""The compute engine resource: where the heavy stages run.

``local`` (the default) computes in this process with DuckDB and NumPy. ``spark`` runs
ingestion of event day files, the daily rollup, the snapshot features and scoring on a
Spark session built by Dagster's PySpark integration, from ``ACCOUNT_HEALTH_SPARK_MASTER``
(``local[*]``: every core of this machine; ``spark://host:7077``: a cluster). Both engines
run the same feature, validation and scoring functions (docs/scaling.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from dagster import ConfigurableResource, Failure

from features.spark_features import SPARK_CONF
from pipelines.environment import Deployment, java_available, prepare_spark_process

ENGINES = ("local", "spark")
#: Spark's logging on the driver: errors only (a run's output is the pipeline's progress).
LOG_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "spark" / "log4j2.properties"


class ComputeEngine(ConfigurableResource):
    """The engine of the heavy stages and, for ``spark``, the session's settings."""

    name: Literal["local", "spark"] = "local"
    spark_master: str = "local[*]"
    #: Further Spark settings (``ACCOUNT_HEALTH_SPARK_CONF``, a JSON object).
    spark_conf: dict[str, str] = {}

    @property
    def on_spark(self) -> bool:
        return self.name == "spark"

    def spark_session(self):
        """The Spark session, started on first use (a run on the local engine starts none)."""
        from dagster_pyspark.resources import spark_session_from_config

        if not java_available():
            raise Failure("ACCOUNT_HEALTH_ENGINE=spark needs Java 17 or newer: install a JDK "
                          "(java on PATH or JAVA_HOME set), or unset ACCOUNT_HEALTH_ENGINE to "
                          "run on the local engine")
        conf = {"spark.master": self.spark_master, "spark.app.name": "account-health",
                "spark.ui.showConsoleProgress": "false",
                "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG_CONFIG}",
                **SPARK_CONF, **self.spark_conf}
        if self.spark_master.startswith("local"):
            # tasks run this environment's Python, which has the project's packages; the
            # session and its UI stay on this machine
            prepare_spark_process()
            conf = {**local_memory_conf(), **conf}
        session = spark_session_from_config(conf)
        session.sparkContext.setLogLevel("ERROR")
        return session


def local_memory_conf() -> dict[str, str]:
    """Memory settings for a session whose executors are this machine's driver: a third of
    the machine's memory for its JVM (Spark's default, 1 GiB, cannot hold a backfill's task
    results) and no cap on the results of one action, which a run's output is."""
    machine_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return {"spark.driver.memory": f"{max(1, int(machine_gib // 3))}g",
            "spark.driver.maxResultSize": "0"}


def engine_from(deployment: Deployment) -> ComputeEngine:
    """The engine the deployment names (``ACCOUNT_HEALTH_ENGINE``, default ``local``)."""
    if deployment.engine not in ENGINES:
        raise SystemExit(f"ACCOUNT_HEALTH_ENGINE={deployment.engine!r}: expected local or spark")
    try:
        spark_conf = {str(k): str(v) for k, v in json.loads(deployment.spark_conf).items()}
    except (ValueError, AttributeError) as exc:
        raise SystemExit("ACCOUNT_HEALTH_SPARK_CONF is not a JSON object of settings: "
                         f"{deployment.spark_conf}") from exc
    return ComputeEngine(name=deployment.engine, spark_master=deployment.spark_master,
                         spark_conf=spark_conf)
