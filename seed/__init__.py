"""Synthetic test data for load tests: Faker-made users and subscriptions created through the
target's API, listed in a manifest, and removed again from that manifest.

    manifest = seed_users(host, run_id, users=100, manifest_path="seed.json", seed=7)
    report = cleanup(host, "seed.json")
"""

from seed.cleaner import CleanupReport, cleanup
from seed.feeder import CredentialFeeder, feeder_from_env, load_credentials
from seed.generator import UserSpec, generate_users
from seed.manifest import Manifest, SeededSubscription, SeededUser, load_manifest
from seed.seeder import DataSeeder, seed_users

__all__ = [
    "CleanupReport",
    "CredentialFeeder",
    "DataSeeder",
    "Manifest",
    "SeededSubscription",
    "SeededUser",
    "UserSpec",
    "cleanup",
    "feeder_from_env",
    "generate_users",
    "load_credentials",
    "load_manifest",
    "seed_users",
]
