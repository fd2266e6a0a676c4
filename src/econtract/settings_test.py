"""Settings for the test suite: the embedded default in a throw-away data directory.

ECONTRACT_TEST_DATABASE_URL / ECONTRACT_TEST_REDIS_URL switch the same tests onto PostgreSQL and Redis.
"""

import os
import tempfile

os.environ["ECONTRACT_DATA_DIR"] = os.environ.get("ECONTRACT_TEST_DATA_DIR") or tempfile.mkdtemp(
    prefix="econtract-test-"
)
os.environ.pop("ECONTRACT_DATABASE_URL", None)
os.environ.pop("ECONTRACT_REDIS_URL", None)
os.environ.pop("ECONTRACT_SMTP_URL", None)
os.environ.pop("ECONTRACT_TSA_URL", None)
os.environ.pop("ECONTRACT_KEK_FILE", None)
if os.environ.get("ECONTRACT_TEST_DATABASE_URL"):
    os.environ["ECONTRACT_DATABASE_URL"] = os.environ["ECONTRACT_TEST_DATABASE_URL"]
if os.environ.get("ECONTRACT_TEST_REDIS_URL"):
    os.environ["ECONTRACT_REDIS_URL"] = os.environ["ECONTRACT_TEST_REDIS_URL"]

from econtract.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; production stays argon2

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not Django's shared-cache in-memory database: threaded tests need SQLite's real write
    # lock (which waits out the busy timeout) instead of shared-cache table locks (which fail at once).
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
