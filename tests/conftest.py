"""Shared fixtures: one local Spark session for the whole suite (cxlab.engine's Spark path)."""

from __future__ import annotations

import os
import shutil

import pytest


@pytest.fixture(scope="session")
def spark():
    """A local-mode SparkSession (2 threads, UTC), started once and stopped at the end.

    Skipped only when no Java runtime is found (Spark runs in a JVM); pyspark itself is a
    development dependency (the ``spark`` extra), so its absence is an error, not a skip.
    """
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime (java on PATH or JAVA_HOME): Spark local mode needs Java 17+")
    from pyspark.sql import SparkSession
    session = (SparkSession.builder.master("local[2]").appName("cxlab-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.memory", "1g")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
