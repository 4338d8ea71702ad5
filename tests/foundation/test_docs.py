"""The README and docker-compose.yml stay true to the code: every variable config.py reads is in
the README's configuration reference, and docker-compose.yml (which cannot run on these
machines: no images can be pulled) names only services, files, commands and variables the
repository has. Also the ERP_GATEWAY setting the README documents."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from app import create_app
from app.erp import get_erp
from app.erp.fake import RecordingErp
from app.erp.interface import ErpGateway

pytestmark = pytest.mark.no_db

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# How config.py reads a variable: _env("X"...), _int("X"...), _bool(...), os.environ.get("X").
READS = re.compile(r'(?:_env|_int|_bool|_database_url|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]*)"')
COMPOSE_SERVICES = {"postgres", "redis", "web", "worker", "mock-erp"}


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def _config_variables() -> set[str]:
    return set(READS.findall((ROOT / "config.py").read_text()))


def test_the_readme_names_every_variable_config_reads():
    reference = _section(README, "Configuration")
    missing = sorted(name for name in _config_variables() if f"`{name}`" not in reference)
    assert missing == [], f"add these to README.md's Configuration table: {missing}"
    assert len(_config_variables()) > 50  # the pattern still finds config.py's reads


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_is_valid_yaml_with_the_five_services():
    compose = _compose()
    assert set(compose["services"]) == COMPOSE_SERVICES
    for name, service in compose["services"].items():
        assert ("image" in service) != ("build" in service), name
        for dependency in service.get("depends_on", {}):
            assert dependency in compose["services"], (name, dependency)
        for volume in service.get("volumes", []):
            named = volume.split(":", 1)[0]
            assert named in compose.get("volumes", {}), (name, volume)


def test_compose_builds_from_the_repository_and_runs_its_own_commands():
    compose = _compose()
    for name, service in compose["services"].items():
        if "build" not in service:
            continue
        assert (ROOT / service["build"] / "Dockerfile").is_file(), name
        command = " ".join(service.get("command", []))
        if "-m app.erp.mock" in command:
            assert importlib.util.find_spec("app.erp.mock.__main__"), name
        if "flask --app wsgi" in command or command.startswith("flask"):
            assert (ROOT / "wsgi.py").is_file()
        if "worker" in command:
            cli = create_app("testing").cli
            assert "worker" in cli.list_commands(None)  # type: ignore[arg-type]
        if "gunicorn wsgi:app" in command:
            assert "gunicorn" in (ROOT / "pyproject.toml").read_text()
    # The worker starts once web has migrated: web is healthy by the image's HEALTHCHECK.
    assert compose["services"]["worker"]["depends_on"]["web"] == {"condition": "service_healthy"}
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile
    for copied in re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", dockerfile, re.MULTILINE):
        for path in copied.split():
            if not path.startswith("/"):
                assert (ROOT / path).exists(), path


def test_compose_sets_only_variables_the_portal_or_its_services_read():
    compose = _compose()
    # PROMETHEUS_MULTIPROC_DIR is prometheus-client's own (README: Configuration).
    known = _config_variables() | {"MOCK_ERP_HOST", "PROMETHEUS_MULTIPROC_DIR"}
    images = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
    for name, service in compose["services"].items():
        environment = service.get("environment", {})
        unknown = sorted(set(environment) - known - images)
        assert unknown == [], (name, unknown)
    portal = compose["services"]["web"]["environment"]
    assert portal == compose["services"]["worker"]["environment"]
    assert portal["DATABASE_URL"].endswith("@postgres/portal")
    assert portal["REDIS_URL"].startswith("redis://redis:")
    assert portal["ERP_URL"] == "http://mock-erp:5001"
    assert compose["services"]["mock-erp"]["environment"]["MOCK_ERP_HOST"] == "0.0.0.0"  # noqa: S104 - in its container


class ConfiguredGateway(RecordingErp):
    """An adapter as the README describes one: an ErpGateway with from_config."""

    @classmethod
    def from_config(cls, config) -> ConfiguredGateway:
        gateway = cls()
        gateway.configured_with = config["ERP_URL"]
        return gateway


def test_erp_gateway_names_another_adapter():
    app = create_app(
        "testing", {"ERP_GATEWAY": f"{__name__}:ConfiguredGateway", "ERP_URL": "http://erp.test"}
    )
    with app.app_context():
        gateway: ErpGateway = get_erp()
    assert isinstance(gateway, ConfiguredGateway)
    assert gateway.configured_with == "http://erp.test"


# An image the README shows: ![text](path) or <img src="path">.
IMAGES = re.compile(r'!\[[^\]]*\]\(([^)\s]+)|<img[^>]*\ssrc="([^"]+)"')
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _readme_images() -> set[str]:
    return {a or b for a, b in IMAGES.findall(README)}


def test_every_readme_image_exists_and_every_screenshot_is_shown():
    images = _readme_images()
    assert images, "the README's tour shows no screenshot"
    missing = sorted(path for path in images if not (ROOT / path).is_file())
    assert missing == [], f"README.md shows images that are not in the repository: {missing}"
    outside = sorted(path for path in images if Path(path).parent != Path("docs/screenshots"))
    assert outside == [], f"README.md images belong in docs/screenshots: {outside}"
    unshown = sorted(f"docs/screenshots/{f.name}" for f in SCREENSHOTS.iterdir() if f.is_file())
    unshown = [path for path in unshown if path not in images]
    assert unshown == [], f"docs/screenshots holds files README.md does not show: {unshown}"
