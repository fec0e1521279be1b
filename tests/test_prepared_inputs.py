"""The disk cache of loaded inputs (``opennsg.cli.prepared``): a hit is as good as a load.

On random topologies (with AVNM and private endpoints) a miss, a hit and a hit carrying resolved NIC policies give
equal topologies and the same verdicts; any change of an input's bytes, of the options or of the service tags is
a miss; damaged and foreign files are misses that are removed; a directory others can write is never read; inputs
that read other files (directories, Terraform modules, linked templates) are not kept; the CLI prints the same
output and notes cold, warm and with ``--no-cache``.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from tests.strategies import topology_and_flows
from typer.testing import CliRunner

from opennsg import batch
from opennsg.arm.export import export_topology
from opennsg.cli import common, prepared
from opennsg.cli.common import InputOptions
from opennsg.cli.main import app
from opennsg.engine import Engine
from opennsg.engine.compiled import cache as cache_module
from opennsg.engine.compiled import clear_cache, policy_key
from opennsg.engine.compiled import store as store_module
from opennsg.engine.compiled.store import program_digest
from opennsg.engine.flow import Flow
from opennsg.model.errors import OpenNsgError
from opennsg.model.topology import Topology

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "how-nsgs-filter-traffic.json"


def _write_inputs(topology: Topology, directory: Path) -> tuple[Path, InputOptions]:
    net = directory / "net.json"
    net.write_text(json.dumps(export_topology(topology)))
    options = InputOptions()
    if topology.service_tags is not None:
        tags = directory / "tags.json"
        tags.write_text(json.dumps(topology.service_tags.to_json()))
        options = InputOptions(service_tags=tags)
    return net, options


def _answers(engine: Engine, pairs: list[tuple[str, Flow]]) -> list[object]:
    out: list[object] = []
    for nic_id, flow in pairs:
        try:
            out.append(engine.verify(nic_id, flow))
        except OpenNsgError as exc:
            out.append(exc.errors[0].code)
    return out


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(topology_and_flows(max_flows=12, avnm=True))
def test_miss_hit_and_hit_with_policies_load_the_same_and_decide_the_same(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[Topology, list[tuple[str, Flow]]],
) -> None:
    topology, pairs = case
    directory = tmp_path_factory.mktemp("prepared")
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(directory / "cache"))
    monkeypatch.delenv("OPENNSG_NO_CACHE", raising=False)
    net, options = _write_inputs(topology, directory)
    try:
        expected = _answers(Engine(options.load([net])), pairs)
    except OpenNsgError as exc:  # inputs Azure refuses are refused alike, and nothing is kept
        event("refused by validation")
        with pytest.raises(OpenNsgError) as refused:
            prepared.load([net], options)
        assert refused.value.response.to_json() == exc.response.to_json()
        assert not (directory / "cache" / "inputs").exists()
        return

    miss = prepared.load([net], options)
    assert miss.key is not None and not miss.stored and not miss.policies
    miss.keep(miss.engine())  # the loaded topology alone
    hit = prepared.load([net], options)
    assert hit.stored and hit.topology == miss.topology and hit.notes == miss.notes
    engine = hit.engine()
    assert _answers(engine, pairs) == expected
    hit.keep(engine)  # now with the policies resolved for the flows' NICs
    with_policies = prepared.load([net], options)
    assert with_policies.policies.keys() == engine.resolved_policies().keys()
    assert with_policies.policies == engine.resolved_policies()
    assert _answers(with_policies.engine(), pairs) == expected


def test_any_change_of_what_was_read_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path / "cache"))
    net = tmp_path / "net.json"
    net.write_bytes(EXAMPLE.read_bytes())
    tags = tmp_path / "tags.json"
    tags.write_text(json.dumps({"changeNumber": 1, "cloud": "Public", "values": []}))
    options = InputOptions(service_tags=tags)
    key = prepared.input_key([net], options, tags)
    assert key is not None and key == prepared.input_key([net], options, tags)
    other_options = InputOptions(service_tags=tags, subscription="00000000-0000-0000-0000-000000000001")
    assert prepared.input_key([net], other_options, tags) != key
    tags.write_text(json.dumps({"changeNumber": 2, "cloud": "Public", "values": []}))
    assert prepared.input_key([net], options, tags) != key
    tags_key = prepared.input_key([net], options, tags)
    net.write_bytes(EXAMPLE.read_bytes() + b" ")
    assert prepared.input_key([net], options, tags) not in (key, tags_key)
    monkeypatch.setenv("TF_VAR_region", "westus")
    assert prepared.input_key([net], options, tags) not in (key, tags_key)
    monkeypatch.setattr(prepared, "_fingerprint", b"other code")
    assert prepared.input_key([net], options, None) != prepared.input_key([net], options, tags)


def test_inputs_that_read_other_files_are_not_kept(tmp_path: Path) -> None:
    options = InputOptions()
    template = tmp_path / "main.json"
    template.write_text(json.dumps({"resources": [{"properties": {"TemplateLink": {"relativePath": "x.json"}}}]}))
    module = tmp_path / "main.tf"
    module.write_text('module "m" { source = "./m" }\n')
    assert prepared.input_key([template], options, None) is None
    assert prepared.input_key([module], options, None) is None
    assert prepared.input_key([tmp_path], options, None) is None
    assert prepared.input_key([tmp_path / "absent.json"], options, None) is None


def _stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENNSG_NO_CACHE", raising=False)
    loaded = prepared.load([EXAMPLE], InputOptions())
    loaded.keep(loaded.engine())
    assert loaded.key is not None and loaded.files is not None
    return loaded.files.directory, loaded.files.path(loaded.key)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "foreign pickle", "not a pickle"])
def test_a_damaged_or_foreign_file_is_a_miss_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    directory, path = _stored(tmp_path, monkeypatch)
    files = prepared.CacheFiles(directory, prepared.SUFFIX, prepared.MAGIC, prepared.MAX_BYTES)
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        path.write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "foreign pickle":  # the right checksum, not a topology
        files.write(path.stem, pickle.dumps({"topology": "no"}))
    else:
        files.write(path.stem, b"\x80\x05garbage")
    loaded = prepared.load([EXAMPLE], InputOptions())
    assert not loaded.stored and not path.exists()
    assert loaded.topology == Engine(InputOptions().load([EXAMPLE])).topology


def test_a_directory_others_can_write_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory, path = _stored(tmp_path, monkeypatch)
    assert prepared.load([EXAMPLE], InputOptions()).stored
    os.chmod(directory, 0o777)
    assert not prepared.load([EXAMPLE], InputOptions()).stored
    os.chmod(directory, 0o700)
    os.chmod(path, 0o666)
    assert not prepared.load([EXAMPLE], InputOptions()).stored


def test_a_policy_read_back_brings_its_classifier_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled classifier's keys are computed once per policy and kept with it: a later command reads them
    back (hashing nothing), and they are the keys an equal policy hashes to."""
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENNSG_NO_CACHE", raising=False)
    loaded = prepared.load([EXAMPLE], InputOptions())
    engine = loaded.engine()
    engine.classifier("VM1")
    loaded.keep(engine)
    back = prepared.load([EXAMPLE], InputOptions()).policies
    assert back
    fresh = {nic: (program_digest(replace(p)), policy_key(replace(p))) for nic, p in back.items()}

    def hashed_again(policy: object) -> str:
        raise AssertionError("a policy read back was hashed again")

    monkeypatch.setattr(store_module, "_program_digest", hashed_again)
    monkeypatch.setattr(cache_module, "_policy_digest", hashed_again)
    assert {nic: (program_digest(p), policy_key(p)) for nic, p in back.items()} == fresh


def test_the_collector_is_as_it_was_after_a_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _stored(tmp_path, monkeypatch)
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            assert prepared.load([EXAMPLE], InputOptions()).stored
            assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_verify_flows_pauses_the_collector_and_leaves_it_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flows = tmp_path / "flows.jsonl"
    row = {"targetResourceId": "VM1", "direction": "Inbound", "protocol": "TCP", "localIPAddress": "10.0.1.4",
           "localPort": "22", "remoteIPAddress": "52.10.20.30", "remotePort": "50000"}  # fmt: skip
    flows.write_text(json.dumps(row) + "\n")
    seen: list[bool] = []
    real = batch.verify_flows_file

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "verify_flows_file", watched)
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            result = CliRunner().invoke(app, ["verify", str(EXAMPLE), "--flows", str(flows), "--no-cache"])
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout)["access"] == "Deny"
            assert gc.isenabled() is enabled
    finally:
        gc.enable()
    assert seen == [False, False]


def test_the_collector_stays_off_only_for_a_process_that_ends_with_the_run() -> None:
    """``verify --flows`` leaves the collector off (``resume=False``) only when its process ends once the command
    returns: run as its own process (``opennsg``) and asked to end at once; in this process (CliRunner, above) it
    is turned back on."""
    common.end_at_once(False)
    try:
        assert not common.ends_process()
        common.own_process(True)
        assert not common.ends_process()
        common.end_at_once()
        assert common.ends_process()
        common.own_process(False)
        assert not common.ends_process()
        gc.enable()
        with prepared.collector_paused(resume=False):
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
        common.own_process(False)
        common.end_at_once(False)


def test_no_cache_neither_reads_nor_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path / "cache"))
    loaded = prepared.load([EXAMPLE], InputOptions(), cache=False)
    loaded.keep(loaded.engine())
    monkeypatch.setenv("OPENNSG_NO_CACHE", "1")
    loaded = prepared.load([EXAMPLE], InputOptions())
    loaded.keep(loaded.engine())
    assert not (tmp_path / "cache" / "inputs").exists()


def test_the_cli_answers_the_same_cold_warm_and_uncached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENNSG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPENNSG_NO_CACHE", raising=False)
    flows = tmp_path / "flows.jsonl"
    rows = [
        {"targetResourceId": "VM1", "direction": d, "protocol": "TCP", "localIPAddress": "10.0.1.4",
         "localPort": port, "remoteIPAddress": "52.10.20.30", "remotePort": "50000"}
        for d in ("Inbound", "Outbound") for port in ("22", "80", "443", "3389")
    ]  # fmt: skip
    flows.write_text("".join(json.dumps(row) + "\n" for row in rows))
    one = ["verify", str(EXAMPLE), "--nic", "VM1", "--direction", "Inbound", "--local", "10.0.1.4:80",
           "--remote", "52.10.20.30:50000", "--json"]  # fmt: skip
    runner = CliRunner()

    def run(*args: str) -> tuple[str, str]:
        clear_cache()
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.stdout, result.stderr

    many = ["verify", str(EXAMPLE), "--flows", str(flows)]
    uncached = run(*one, "--no-cache"), run(*many, "--no-cache")
    assert not (tmp_path / "cache" / "inputs").exists()
    cold = run(*one), run(*many)
    assert len(list((tmp_path / "cache" / "inputs").iterdir())) == 1
    warm = run(*one), run(*many)
    assert uncached == cold == warm


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topology_and_flows(max_flows=1, avnm=True))
def test_quick_setstate_restores_what_dataclasses_own_restores(case: tuple[Topology, list[tuple[str, Flow]]]) -> None:
    """The rules and sets of a network read back (``model.pickling.quick_setstate``) equal the originals, field by
    field, as ``dataclasses``' own ``__setstate__`` restores them."""
    import dataclasses

    topology, _ = case
    policies = [Engine(topology).policy(nic) for nic in topology.nics.values()]
    for rule in (
        r for p in policies for nsg in (p.subnet_nsg, p.nic_nsg) if nsg for r in (*nsg.inbound, *nsg.outbound)
    ):
        for value in (rule, rule.rule, rule.source, rule.source_ports, rule.destination, rule.destination_ports):
            back = pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            assert back == value
            fields = dataclasses.fields(value)
            assert [getattr(back, f.name) for f in fields] == [getattr(value, f.name) for f in fields]
