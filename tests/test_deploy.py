"""The deployment files agree with the service and with each other.

Docker and a cluster are not available where the tests run, so this checks what a deployer
would trip over: every variable set is one the service reads (``workers.settings.ENVIRONMENT``)
with a value it accepts, ports and probe paths agree everywhere, the KB is mounted read-only
where ``FACTLINK_KB`` points, Redis is reachable under the name ``REDIS_URL`` uses, and the
worker can be scaled. The YAML is read by a small strict reader for the block-style subset the
files are written in (PyYAML is not a dependency); where PyYAML happens to be importable, a
test checks that both readers agree.
"""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from workers import keys
from workers.settings import ENVIRONMENT, Settings

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"

#: set by the image for Python/pip itself, not settings of the service
RUNTIME_VARIABLES = {"PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PIP_DISABLE_PIP_VERSION_CHECK",
                     "XDG_CACHE_HOME"}      # where the starter KB is built (linkers/kb/starter.py)
API_COMMAND = ["factlink", "api", "--host", "0.0.0.0", "--port", "8080"]
WORKER_COMMAND = ["factlink", "worker"]


# --- a strict reader for block-style YAML --------------------------------------------------

class YAMLSubsetError(ValueError):
    pass


def load_yaml(text: str) -> list:
    """The documents of ``text``: block mappings and sequences, scalars, one-line ``[a, b]``.

    Anything else (anchors, tags, block or multi-line scalars, flow mappings, YAML 1.1
    booleans such as ``yes``) raises ``YAMLSubsetError`` rather than being misread.
    """
    documents, lines = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        line = _without_comment(raw).rstrip()
        if line == "---":
            documents.append(lines)
            lines = []
        elif line.strip():
            indent = len(line) - len(line.lstrip(" "))
            if line[indent] == "\t":
                raise YAMLSubsetError(f"line {number}: tab indentation")
            lines.append((indent, line.strip(), number))
    documents.append(lines)
    return [_BlockReader(doc).read() for doc in documents if doc]


_KEY = re.compile(r"""^(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"'#\-?:,\[\]{}&*!|>%@`][^:#]*?)
                      \s*:(?:\s+(?P<rest>.*))?$""", re.X)


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


class _BlockReader:
    def __init__(self, lines: list[tuple[int, str, int]]):
        self.lines = lines
        self.i = 0

    def read(self):
        value = self.node(self.lines[0][0])
        if self.i != len(self.lines):
            self.fail("unexpected indentation")
        return value

    def fail(self, why: str):
        number = self.lines[min(self.i, len(self.lines) - 1)][2]
        raise YAMLSubsetError(f"line {number}: {why}")

    def node(self, indent: int):
        return self.sequence(indent) if _is_item(self.lines[self.i][1]) else self.mapping(indent)

    def child(self, indent: int, sequence_may_align: bool = False):
        """The block nested under a key or a bare ``-``; None if there is none."""
        if self.i < len(self.lines):
            line_indent, text, _ = self.lines[self.i]
            if line_indent > indent:
                return self.node(line_indent)
            if sequence_may_align and line_indent == indent and _is_item(text):
                return self.sequence(indent)
        return None

    def sequence(self, indent: int) -> list:
        items = []
        while self.i < len(self.lines):
            line_indent, text, number = self.lines[self.i]
            if line_indent != indent or not _is_item(text):
                break
            rest = text[1:].lstrip()
            if not rest:
                self.i += 1
                items.append(self.child(indent))
            elif _KEY.match(rest) or _is_item(rest):
                # "- key: value" opens a mapping whose keys line up with "key"
                column = indent + len(text) - len(rest)
                self.lines[self.i] = (column, rest, number)
                items.append(self.node(column))
            else:
                self.i += 1
                items.append(scalar(rest, number))
        return items

    def mapping(self, indent: int) -> dict:
        result = {}
        while self.i < len(self.lines):
            line_indent, text, number = self.lines[self.i]
            if line_indent < indent or (line_indent == indent and _is_item(text)):
                break
            if line_indent > indent:
                self.fail("unexpected indentation (multi-line scalars are not supported)")
            match = _KEY.match(text)
            if not match:
                self.fail(f"expected 'key: value', got {text!r}")
            key = scalar(match["key"], number) if match["key"][0] in "\"'" else match["key"]
            if key in result:
                self.fail(f"duplicate key {key!r}")
            self.i += 1
            rest = match["rest"]
            result[key] = scalar(rest, number) if rest else self.child(indent, True)
        return result


_AMBIGUOUS = re.compile(r"^(?:yes|no|on|off|y|n|0\d+|\d+(?::\d+)+)$", re.I)


def scalar(text: str, number: int = 0):
    text = text.strip()
    if text[0] == '"':
        try:
            value = json.loads(text)
        except ValueError:
            raise YAMLSubsetError(f"line {number}: bad double-quoted scalar {text!r}") from None
        return value
    if text[0] == "'":
        if len(text) < 2 or text[-1] != "'":
            raise YAMLSubsetError(f"line {number}: bad single-quoted scalar {text!r}")
        return text[1:-1].replace("''", "'")
    if text[0] == "[":
        if text[-1] != "]":
            raise YAMLSubsetError(f"line {number}: flow sequences must fit on one line")
        return [scalar(item, number) for item in _split_flow(text[1:-1], number)]
    if text == "{}":
        return {}
    if text[0] in "{&*!|>%@`?":
        raise YAMLSubsetError(f"line {number}: unsupported YAML construct {text!r}")
    if _AMBIGUOUS.match(text):
        raise YAMLSubsetError(f"line {number}: {text!r} reads differently in YAML 1.1; quote it")
    if text in ("true", "false"):
        return text == "true"
    if text in ("null", "~"):
        return None
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if re.fullmatch(r"[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?", text):
        return float(text)
    return text


def _split_flow(body: str, number: int) -> list[str]:
    items, current, quote, escaped = [], "", None, False
    for char in body:
        if quote:
            current += char
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
            current += char
        elif char in "[]{}":
            raise YAMLSubsetError(f"line {number}: nested flow collections are not supported")
        elif char == ",":
            items.append(current)
            current = ""
        else:
            current += char
    if quote:
        raise YAMLSubsetError(f"line {number}: unterminated quote in {body!r}")
    items.append(current)
    items = [item.strip() for item in items]
    if items == [""]:
        return []
    if "" in items:
        raise YAMLSubsetError(f"line {number}: empty item in flow sequence")
    return items


def _without_comment(line: str) -> str:
    quote, escaped = None, False
    for i, char in enumerate(line):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'" and (i == 0 or line[i - 1] in " \t[,:-"):
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


# --- the files -----------------------------------------------------------------------------

def yaml_files() -> list[Path]:
    return sorted([*DEPLOY.glob("*.yml"), *DEPLOY.glob("*.yaml"), *K8S.glob("*.yaml")])


@pytest.fixture(scope="module")
def compose() -> dict:
    (document,) = load_yaml((DEPLOY / "docker-compose.yml").read_text())
    return document


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict]:
    """Every Kubernetes object applied by kustomization.yaml, by (kind, name)."""
    (kustomization,) = load_yaml((K8S / "kustomization.yaml").read_text())
    objects = {}
    for name in kustomization["resources"]:
        for obj in load_yaml((K8S / name).read_text()):
            objects[(obj["kind"], obj["metadata"]["name"])] = obj
    return objects


def read_env_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(active ``NAME=value`` lines, commented ``# NAME=value`` examples)."""
    active, examples = {}, {}
    for line in path.read_text().splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip()):
            active[match[1]] = match[2]
        elif match := re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip()):
            examples[match[1]] = match[2]
    return active, examples


def read_dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in (DEPLOY / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        if pending.strip():
            instruction, _, arguments = pending.strip().partition(" ")
            instructions.append((instruction.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_env() -> dict[str, str]:
    env = {}
    for instruction, arguments in read_dockerfile():
        if instruction == "ENV":
            env.update(pair.split("=", 1) for pair in arguments.split())
    return env


def only(instructions: list[tuple[str, str]], name: str) -> str:
    (arguments,) = [args for instruction, args in instructions if instruction == name]
    return arguments


def pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def container(obj: dict) -> dict:
    (first,) = pod_spec(obj)["containers"]
    return first


def url_port(url: str) -> int:
    return urlsplit(url).port


def probe_url(command: list[str]) -> str:
    (url,) = re.findall(r"https?://[^'\"\s]+", " ".join(command))
    return url


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


# --- the YAML reader itself ----------------------------------------------------------------

def test_every_yaml_file_reads():
    for path in yaml_files():
        documents = load_yaml(path.read_text())
        assert documents, path
        if path.parent == K8S and path.name != "kustomization.yaml":
            for obj in documents:
                assert obj["apiVersion"] and obj["kind"] and obj["metadata"]["name"], path


def test_the_reader_refuses_what_it_does_not_understand():
    for text in ["a: &x 1", "a: *x", "a: !!str 1", "a: |\n  text", "a: {b: 1}", "a: yes",
                 "a: 8080:80", "a: b\n  c", "a: 1\na: 2", "a: [1, [2]]", "a: 'open"]:
        with pytest.raises(YAMLSubsetError):
            load_yaml(text)
    assert load_yaml("a:\n- b: 1\n  c: [x, \"y, z\"]  # note\n- 2\nd: {}\n---\ne: 'it''s'") == [
        {"a": [{"b": 1, "c": ["x", "y, z"]}, 2], "d": {}}, {"e": "it's"}]


def test_the_reader_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    for path in yaml_files():
        assert load_yaml(path.read_text()) == list(yaml.safe_load_all(path.read_text())), path


# --- environment ---------------------------------------------------------------------------

def env_everywhere(compose: dict, manifests: dict) -> dict[str, set[str]]:
    """Each variable name set anywhere in deploy/, with where it is set."""
    where: dict[str, set[str]] = {}

    def note(names, place):
        for name in names:
            where.setdefault(name, set()).add(place)

    active, examples = read_env_file(DEPLOY / "factlink.env")
    note(active, "factlink.env")
    note(examples, "factlink.env (commented)")
    note(dockerfile_env(), "Dockerfile")
    for service_name, service in compose["services"].items():
        note(service.get("environment") or {}, f"compose {service_name}")
    for (kind, name), obj in manifests.items():
        if kind == "ConfigMap":
            note(obj["data"], f"ConfigMap {name}")
        if kind in ("Deployment", "StatefulSet"):
            for spec in pod_spec(obj)["containers"]:
                note((e["name"] for e in spec.get("env", ())), f"{kind} {name}")
    return where


def test_every_variable_set_is_one_the_service_reads(compose, manifests):
    unknown = {name: sorted(places) for name, places in env_everywhere(compose, manifests).items()
               if name not in ENVIRONMENT and name not in RUNTIME_VARIABLES}
    assert unknown == {}, "not read by the service (see workers/settings.py ENVIRONMENT)"


def test_test_seams_are_not_set_in_production(compose, manifests):
    assert "FACTLINK_DEBUG_LINK_DELAY" not in env_everywhere(compose, manifests)


def test_every_value_is_one_the_service_accepts(manifests):
    active, examples = read_env_file(DEPLOY / "factlink.env")
    for environ in (active, examples, manifests[("ConfigMap", "factlink-config")]["data"],
                    {k: v for k, v in dockerfile_env().items() if k in ENVIRONMENT}):
        Settings.from_env(environ)          # raises SettingsError on a badly typed value
    settings = Settings.from_env(active)
    assert (settings.host, settings.port, settings.kb_path) == ("0.0.0.0", 8080, "/kb")
    assert settings.redis_url and settings.worker_concurrency >= 1


def test_compose_and_kubernetes_carry_the_same_settings(compose, manifests):
    active, _ = read_env_file(DEPLOY / "factlink.env")
    assert manifests[("ConfigMap", "factlink-config")]["data"] == active
    for name in ("api", "worker"):
        assert compose["services"][name]["env_file"] == "factlink.env"
    for name in ("factlink-api", "factlink-worker"):
        refs = container(manifests[("Deployment", name)])["envFrom"]
        assert {"configMapRef": {"name": "factlink-config"}} in refs


def test_api_keys_come_from_a_secret_not_the_configmap(compose, manifests):
    assert "FACTLINK_API_KEYS" not in manifests[("ConfigMap", "factlink-config")]["data"]
    assert "FACTLINK_API_KEYS" not in read_env_file(DEPLOY / "factlink.env")[0]
    (entry,) = [e for e in container(manifests[("Deployment", "factlink-api")])["env"]
                if e["name"] == "FACTLINK_API_KEYS"]
    assert entry["valueFrom"]["secretKeyRef"]["name"] == "factlink-api-keys"
    assert compose["services"]["api"]["environment"]["FACTLINK_API_KEYS"].startswith("${")


# --- ports and probes ----------------------------------------------------------------------

def test_ports_agree_everywhere(compose, manifests):
    port = Settings.from_env(read_env_file(DEPLOY / "factlink.env")[0]).port
    docker = read_dockerfile()
    assert int(only(docker, "EXPOSE")) == port
    assert int(dockerfile_env()["FACTLINK_PORT"]) == port
    assert int(option(json.loads(only(docker, "CMD")), "--port")) == port

    api = compose["services"]["api"]
    assert int(option(api["command"], "--port")) == port
    assert [int(p.rsplit(":", 1)[1]) for p in api["ports"]] == [port]
    assert url_port(probe_url(api["healthcheck"]["test"])) == port

    deployment = container(manifests[("Deployment", "factlink-api")])
    assert int(option(deployment["command"], "--port")) == port
    (container_port,) = deployment["ports"]
    assert container_port["containerPort"] == port
    (service_port,) = manifests[("Service", "factlink-api")]["spec"]["ports"]
    assert service_port["targetPort"] in (container_port["name"], port)
    for probe in ("readinessProbe", "livenessProbe"):
        assert deployment[probe]["httpGet"]["port"] in (container_port["name"], port)


def test_api_probes_point_at_healthz_and_readyz(compose, manifests):
    assert urlsplit(probe_url(compose["services"]["api"]["healthcheck"]["test"])).path == "/readyz"
    deployment = container(manifests[("Deployment", "factlink-api")])
    assert deployment["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_the_worker_is_checked_by_a_celery_ping_not_http(compose, manifests):
    ping = ["python", "-m", "workers.ping"]
    assert compose["services"]["worker"]["healthcheck"]["test"] == ["CMD", *ping]
    assert container(manifests[("Deployment", "factlink-worker")])[
        "livenessProbe"]["exec"]["command"] == ping
    assert "ports" not in compose["services"]["worker"]
    import workers.ping   # noqa: F401 - the module the checks run exists


def test_one_health_check_per_role(compose):
    """The image runs the API and workers: an image-wide HTTP probe failed every worker."""
    assert "HEALTHCHECK" not in [instruction for instruction, _ in read_dockerfile()]
    # kb-follow serves nothing to probe: it exits on what it cannot handle (restart policy) and
    # its staleness is the API's factlink_kb_follow_lag_seconds
    checks = {name: " ".join(service["healthcheck"]["test"])
              for name, service in compose["services"].items() if name != "kb-follow"}
    assert set(checks) == {"redis", "api", "worker"}
    assert "/readyz" in checks["api"] and "workers.ping" in checks["worker"]
    assert "redis-cli ping" in checks["redis"]


# --- secrets, exposure, memory (issue 14) ---------------------------------------------------

def test_redis_has_a_password_from_a_secret(compose, manifests):
    redis = compose["services"]["redis"]
    assert "--requirepass" in " ".join(redis["command"])
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    for name in ("api", "worker"):
        assert compose["services"][name]["environment"]["REDIS_PASSWORD"] == \
            redis["environment"]["REDIS_PASSWORD"]
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])

    statefulset = container(manifests[("StatefulSet", "redis")])
    assert statefulset["args"][statefulset["args"].index("--requirepass") + 1] == \
        "$(REDIS_PASSWORD)"
    for kind, name in (("StatefulSet", "redis"), ("Deployment", "factlink-api"),
                       ("Deployment", "factlink-worker")):
        (entry,) = [e for e in container(manifests[(kind, name)])["env"]
                    if e["name"] == "REDIS_PASSWORD"]
        assert entry["valueFrom"]["secretKeyRef"] == {"name": "factlink-redis",
                                                      "key": "REDIS_PASSWORD"}
    for text in [(DEPLOY / "factlink.env").read_text(), (K8S / "configmap.yaml").read_text()]:
        assert "REDIS_PASSWORD=" not in text and "REDIS_PASSWORD:" not in text
    assert "@" not in read_env_file(DEPLOY / "factlink.env")[0]["REDIS_URL"]


def test_the_service_puts_the_password_into_redis_url_and_masks_it():
    from workers.settings import redact_url
    settings = Settings.from_env({"REDIS_URL": "redis://redis:6379/0",
                                  "REDIS_PASSWORD": "s3cret/with:odd@chars"})
    assert urlsplit(settings.redis).password is not None
    assert "s3cret" not in redact_url(settings.redis) and "s3cret" not in repr(settings)


def test_redis_memory_is_capped_without_evicting_pending_work(compose, manifests):
    compose_args = " ".join(compose["services"]["redis"]["command"])
    k8s_args = " ".join(container(manifests[("StatefulSet", "redis")])["args"])
    for args in (compose_args, k8s_args):
        assert "--maxmemory " in args
        assert f"--maxmemory-policy {keys.EVICTION_POLICY}" in args
    assert keys.EVICTION_POLICY.startswith("volatile-")      # only keys with a TTL go


def test_compose_publishes_on_loopback_unless_told(compose):
    api = compose["services"]["api"]
    (published,) = api["ports"]
    assert published.startswith("${FACTLINK_BIND:-127.0.0.1}:")
    assert api["environment"]["FACTLINK_PUBLISHED_ON"] == "${FACTLINK_BIND:-127.0.0.1}"
    assert Settings(host="0.0.0.0", published_on="127.0.0.1").open_to_the_network is False
    assert Settings(host="0.0.0.0", published_on="0.0.0.0").open_to_the_network is True


def test_a_public_api_without_keys_warns_at_start(caplog):
    from service.cli import warn_if_open
    warn_if_open(Settings(host="0.0.0.0", published_on="127.0.0.1"))
    warn_if_open(Settings(host="0.0.0.0", published_on="0.0.0.0",
                          api_keys=frozenset({"a-key"})))
    assert "without API keys" not in caplog.text
    warn_if_open(Settings(host="0.0.0.0", published_on="0.0.0.0"))
    assert "reachable on 0.0.0.0 without API keys" in caplog.text


def test_kubernetes_lets_only_factlink_pods_reach_redis(manifests):
    policies = {name: obj["spec"] for (kind, name), obj in manifests.items()
                if kind == "NetworkPolicy"}
    assert any(spec["podSelector"] == {} and spec["policyTypes"] == ["Ingress"]
               and "ingress" not in spec for spec in policies.values())    # default deny
    (redis,) = [spec for spec in policies.values()
                if spec["podSelector"].get("matchLabels") == {"app.kubernetes.io/name": "redis"}]
    (rule,) = redis["ingress"]
    allowed = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in rule["from"]}
    assert allowed == {"factlink-api", "factlink-worker", "factlink-kb-follow"}


# --- commands, image -----------------------------------------------------------------------

def test_every_process_runs_the_right_command(compose, manifests):
    assert json.loads(only(read_dockerfile(), "CMD")) == API_COMMAND
    assert compose["services"]["api"]["command"] == API_COMMAND
    assert compose["services"]["worker"]["command"] == WORKER_COMMAND
    assert container(manifests[("Deployment", "factlink-api")])["command"] == API_COMMAND
    assert container(manifests[("Deployment", "factlink-worker")])["command"] == WORKER_COMMAND


def test_the_cli_knows_the_deployed_commands():
    pytest.importorskip("service.cli", reason="service/cli.py is not written yet")
    for command, must_mention in ((API_COMMAND, ["--host", "--port"]), (WORKER_COMMAND, [])):
        shown = subprocess.run([sys.executable, "-c", "from service.cli import main; main()",
                                command[1], "--help"], capture_output=True, text=True,
                               timeout=60, cwd=REPO)
        assert shown.returncode == 0, shown.stderr
        for flag in must_mention:
            assert flag in shown.stdout


def stages() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The Dockerfile's build stage and its runtime (last) stage."""
    docker = read_dockerfile()
    starts = [i for i, (name, _) in enumerate(docker) if name == "FROM"]
    assert len(starts) == 2 and starts[0] == 0
    return docker[:starts[1]], docker[starts[1]:]


def test_the_image_runs_as_a_non_root_user_and_installs_the_package():
    build, docker = stages()
    assert docker[0] == ("FROM", "python:3.11-slim")
    names = [instruction for instruction, _ in docker]
    user = only(docker, "USER").split(":")[0]
    assert user not in ("root", "0")
    (install,) = [i for i, (name, args) in enumerate(docker)
                  if name == "RUN" and re.search(r"\bpip install /wheels/factlink-\*\.whl$", args)]
    assert "from=build" in docker[install][1]
    assert install < names.index("USER") < names.index("CMD")   # installs as root, runs as not
    assert dockerfile_env()["FACTLINK_KB"] == "/kb"


def test_the_image_runs_the_compiled_linker_without_a_compiler_in_it():
    """The build stage has gcc and builds the wheel (setup.py compiles linkers/ with Cython);
    the runtime stage installs that wheel, has no compiler, and fails to build if the linker it
    installed is not the compiled one."""
    build, docker = stages()
    assert build[0] == ("FROM", "python:3.11-slim AS build")
    (compiler,) = [args for name, args in build if name == "RUN" and "apt-get install" in args]
    assert "gcc" in compiler.split()
    (wheel,) = [args for name, args in build if name == "RUN" and "pip wheel" in args]
    assert re.search(r"--wheel-dir /wheels \.$", wheel)
    assert not any("gcc" in args.split() for name, args in docker if name == "RUN")
    assert any('grep "linker: compiled ("' in args for name, args in docker if name == "RUN")


def test_the_image_ships_the_starter_kb_built_for_a_read_only_root():
    """With FACTLINK_KB empty ("try without a KB"), no process may need to write the starter KB
    at run time: the image builds it, as root, after the install, where XDG_CACHE_HOME points."""
    _build, docker = stages()
    names = [instruction for instruction, _ in docker]
    (install,) = [i for i, (name, args) in enumerate(docker)
                  if name == "RUN" and "pip install /wheels/" in args]
    (starter,) = [i for i, (name, args) in enumerate(docker) if name == "RUN" and "open_kb()" in args]
    (cache_env,) = [i for i, (name, args) in enumerate(docker)
                    if name == "ENV" and "XDG_CACHE_HOME=" in args]
    assert install < cache_env < starter < names.index("USER")
    assert dockerfile_env()["XDG_CACHE_HOME"].startswith("/opt/")       # not a mounted home
    assert "a+rX" in docker[starter][1]                                # readable by uid 10001
    assert "FACTLINK_KB=`" in (DEPLOY / "README.md").read_text()         # how to unset /kb


def test_the_build_context_has_what_pip_install_needs():
    """Dockerfile.dockerignore ignores everything but what it re-includes: the packages and
    the files pyproject.toml refers to must be among them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = {"pyproject.toml", "setup.py", project["project"]["readme"]}
    wanted |= {pattern.rstrip("*") for pattern in
               project["tool"]["setuptools"]["packages"]["find"]["include"]}
    rules = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert rules[0] == "**"
    included = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert wanted <= included


# --- KB, Redis, scaling --------------------------------------------------------------------

def test_the_kb_is_mounted_read_only_where_factlink_kb_points(compose, manifests):
    kb_path = read_env_file(DEPLOY / "factlink.env")[0]["FACTLINK_KB"]
    for name in ("api", "worker"):
        (mount,) = [v for v in compose["services"][name]["volumes"] if v["target"] == kb_path]
        assert mount["read_only"] is True
    (claim,) = [name for kind, name in manifests if kind == "PersistentVolumeClaim"]
    for name in ("factlink-api", "factlink-worker"):
        deployment = manifests[("Deployment", name)]
        (mount,) = [m for m in container(deployment)["volumeMounts"] if m["mountPath"] == kb_path]
        assert mount["readOnly"] is True
        (volume,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == mount["name"]]
        assert volume["persistentVolumeClaim"] == {"claimName": claim, "readOnly": True}


def test_redis_is_persistent_and_found_where_redis_url_points(compose, manifests):
    redis_url = urlsplit(read_env_file(DEPLOY / "factlink.env")[0]["REDIS_URL"])
    redis = compose["services"][redis_url.hostname]
    assert redis["image"] == "redis:7"
    assert " ".join(redis["command"]).count("--appendonly yes") == 1
    (data,) = redis["volumes"]
    assert data.split(":")[0] in compose["volumes"] and data.endswith(":/data")
    for name in ("api", "worker"):
        assert compose["services"][name]["depends_on"][redis_url.hostname] == {
            "condition": "service_healthy"}

    (service_port,) = manifests[("Service", redis_url.hostname)]["spec"]["ports"]
    assert service_port["port"] == (redis_url.port or 6379)
    statefulset = manifests[("StatefulSet", redis_url.hostname)]
    assert "--appendonly yes" in " ".join(container(statefulset)["args"])
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    (mount,) = container(statefulset)["volumeMounts"]
    assert (mount["name"], mount["mountPath"]) == (claim["metadata"]["name"], "/data")


def test_the_worker_is_scalable(compose, manifests):
    worker = compose["services"]["worker"]
    assert isinstance(worker["deploy"]["replicas"], int)
    assert not {"container_name", "ports", "hostname"} & set(worker)   # --scale needs these unset

    (hpa,) = [obj for (kind, _), obj in manifests.items() if kind == "HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    deployment = manifests[(target["kind"], target["name"])]
    assert deployment["metadata"]["name"] == "factlink-worker"
    assert "replicas" not in deployment["spec"]                  # the HPA owns the count
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert container(deployment)["resources"]["requests"]["cpu"]  # utilisation needs a request
    assert 1 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_the_keda_example_watches_the_celery_queue():
    (list_name,) = re.findall(r"listName: ([\w:.-]+)", (K8S / "worker.yaml").read_text())
    assert list_name == keys.QUEUE


# --- Kubernetes specifics ------------------------------------------------------------------

def test_service_links_cannot_clobber_settings(manifests):
    """A Service called "factlink" would inject FACTLINK_PORT=tcp://... into every pod."""
    assert ("Service", "factlink") not in manifests
    for (kind, name), obj in manifests.items():
        if kind in ("Deployment", "StatefulSet"):
            assert pod_spec(obj)["enableServiceLinks"] is False, name


def test_pods_run_as_non_root_with_resources(manifests):
    for (kind, name), obj in manifests.items():
        if kind in ("Deployment", "StatefulSet"):
            assert pod_spec(obj)["securityContext"]["runAsNonRoot"] is True, name
            resources = container(obj)["resources"]
            assert resources["requests"]["cpu"] and resources["limits"]["memory"], name


def test_kustomization_applies_every_manifest_but_the_one_off_loader():
    (kustomization,) = load_yaml((K8S / "kustomization.yaml").read_text())
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "kb-loader.yaml"}
    assert sorted(kustomization["resources"]) == sorted(on_disk)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_kustomize_builds_the_manifests(manifests):
    built = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True,
                           timeout=60)
    assert built.returncode == 0, built.stderr
    # kustomize folds long strings over several lines, which the reader above refuses
    kinds = re.findall(r"^kind: (\w+)$", built.stdout, re.M)
    assert sorted(kinds) == sorted(kind for kind, _ in manifests)
    assert built.stdout.count("\n  namespace: factlink\n") == len(kinds) - 1   # all but Namespace


def test_readme_explains_each_file():
    readme = (DEPLOY / "README.md").read_text()
    for path in [DEPLOY / "Dockerfile", DEPLOY / "docker-compose.yml", DEPLOY / "factlink.env",
                 *K8S.glob("*.yaml")]:
        assert path.name in readme, path.name
    assert shlex.join(API_COMMAND) in readme or " ".join(API_COMMAND) in readme


# --- kb follow ---------------------------------------------------------------------------------
FOLLOW_COMMAND = ["factlink", "kb", "follow"]


def test_kb_follow_runs_once_with_the_kb_and_settings_of_the_workers(compose, manifests):
    follow = compose["services"]["kb-follow"]
    assert follow["command"] == FOLLOW_COMMAND and follow["env_file"] == "factlink.env"
    assert "deploy" not in follow and not {"ports", "healthcheck"} & set(follow)   # one, no port
    assert follow["volumes"] == compose["services"]["worker"]["volumes"]           # the same KB
    assert follow["depends_on"]["redis"]["condition"] == "service_healthy"

    deployment = manifests[("Deployment", "factlink-kb-follow")]
    # one replica, never two at once: it resumes from its position in Redis
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    spec = container(deployment)
    assert spec["command"] == FOLLOW_COMMAND and "ports" not in spec
    assert {"configMapRef": {"name": "factlink-config"}} in spec["envFrom"]
    worker = pod_spec(manifests[("Deployment", "factlink-worker")])
    assert pod_spec(deployment)["volumes"] == worker["volumes"]
    (kb_mount,) = [m for m in spec["volumeMounts"] if m["name"] == "kb"]
    assert kb_mount == {"name": "kb", "mountPath": "/kb", "readOnly": True}
    assert pod_spec(deployment)["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["readOnlyRootFilesystem"] is True
    # Redis's password, as the workers get it
    redis_password = compose["services"]["redis"]["environment"]["REDIS_PASSWORD"]
    assert follow["environment"]["REDIS_PASSWORD"] == redis_password
    (entry,) = [e for e in spec["env"] if e["name"] == "REDIS_PASSWORD"]
    assert entry["valueFrom"]["secretKeyRef"] == {"name": "factlink-redis", "key": "REDIS_PASSWORD"}


def test_admin_keys_come_from_the_secret_like_the_api_keys(compose, manifests):
    assert "FACTLINK_ADMIN_KEYS" not in manifests[("ConfigMap", "factlink-config")]["data"]
    (entry,) = [e for e in container(manifests[("Deployment", "factlink-api")])["env"]
                if e["name"] == "FACTLINK_ADMIN_KEYS"]
    assert entry["valueFrom"]["secretKeyRef"]["name"] == "factlink-api-keys"
    assert compose["services"]["api"]["environment"]["FACTLINK_ADMIN_KEYS"].startswith("${")


def test_the_cli_knows_kb_follow():
    done = subprocess.run([sys.executable, "-m", "service.cli", *FOLLOW_COMMAND[1:], "--help"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0 and "--stream" in done.stdout
