"""Model registry calls through the SDK against a real server."""

from __future__ import annotations

import json

import msgspec
import pytest

from engine.domain import FeatureSpec, NewFeature
from engine.sdk import AsyncClient, Client, DriftlineAPIError
from tests.sdk.conftest import CATEGORICAL, MODEL, NUMERIC, model_features


def test_sync_registry_round_trip(server_url: str) -> None:
    with Client(server_url) as dl:
        created = dl.create_model(MODEL, "binary", model_features(), class_labels=["no", "yes"], threshold=0.4,
                                  dimensions=["region"], description="churn model")
        assert created.name == MODEL and created.task == "binary" and created.threshold == 0.4
        assert created.class_labels == ("no", "yes") and created.dimensions == ("region",)
        by_kind = sorted(created.features, key=lambda f: (f.kind != "numeric", f.position))
        assert [f.name for f in by_kind] == [*NUMERIC, *CATEGORICAL]
        assert [f.position for f in by_kind] == [1, 2, 3, 1, 2]
        assert dl.get_model(MODEL) == created
        assert [m.name for m in dl.list_models()] == [MODEL]
        json.dumps(msgspec.to_builtins(created))

        v1 = dl.create_version(MODEL, "1.0.0", description="first")
        assert (v1.version, v1.stage, v1.description, v1.promoted_at) == ("1.0.0", "development", "first", None)
        v2 = dl.create_version(MODEL, "2.0.0", stage="staging")
        assert v2.stage == "staging"
        p1 = dl.promote(MODEL, "1.0.0")
        assert p1.stage == "production" and p1.promoted_at is not None
        p2 = dl.promote(MODEL, "2.0.0")
        assert p2.stage == "production"
        stages = {v.version: v.stage for v in dl.list_versions(MODEL)}
        assert stages == {"1.0.0": "staging", "2.0.0": "production"}
        archived = dl.archive(MODEL, "1.0.0")
        assert archived.stage == "archived" and archived.archived_at is not None


def test_sync_registry_errors_are_typed(server_url: str) -> None:
    with Client(server_url) as dl:
        with pytest.raises(DriftlineAPIError) as err:
            dl.get_model("nope")
        assert err.value.status == 404 and err.value.attempts == 1
        with pytest.raises(DriftlineAPIError) as err:
            dl.create_model("m", "binary", [{"name": "a", "kind": "numeric"}], class_labels=["only-one"])
        assert err.value.status == 422
        assert any(e.field == "class_labels" for e in err.value.errors)
        dl.create_model("m", "regression", [FeatureSpec("a", "numeric")])
        with pytest.raises(DriftlineAPIError) as err:
            dl.create_model("m", "regression", [FeatureSpec("a", "numeric")])
        assert err.value.status == 409
        # A registered model's features (positions and all) and input features both describe a new model.
        copy = dl.create_model("m-copy", "regression", dl.get_model("m").features)
        assert copy.features == dl.get_model("m").features
        assert dl.create_model("m2", "regression", [NewFeature("a", "numeric", min_value=0.0)]).features == (
            FeatureSpec("a", "numeric", position=1, min_value=0.0),)


async def test_async_registry_round_trip(server_url: str) -> None:
    async with AsyncClient(server_url) as dl:
        created = await dl.create_model(MODEL, "multiclass", model_features(), class_labels=["a", "b", "c"])
        assert created.class_labels == ("a", "b", "c")
        assert await dl.get_model(MODEL) == created
        assert [m.name for m in await dl.list_models()] == [MODEL]
        await dl.create_version(MODEL, "v1")
        assert (await dl.promote(MODEL, "v1", stage="staging")).stage == "staging"
        assert (await dl.archive(MODEL, "v1")).stage == "archived"
        assert [v.stage for v in await dl.list_versions(MODEL)] == ["archived"]
        with pytest.raises(DriftlineAPIError) as err:
            await dl.create_version("nope", "v1")
        assert err.value.status == 404


def test_base_url_and_api_key_come_from_the_environment_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFTLINE_URL", "http://127.0.0.1:1/")
    monkeypatch.setenv("DRIFTLINE_API_KEY", "k-1")
    with Client() as dl:
        assert dl.options.base_url == "http://127.0.0.1:1"
        assert dl.options.headers["x-api-key"] == "k-1"
    monkeypatch.setenv("DRIFTLINE_URL", "http://127.0.0.1:2")
    with Client("http://127.0.0.1:3") as dl:
        assert dl.options.base_url == "http://127.0.0.1:3"
    with pytest.raises(ValueError, match="http"):
        Client("127.0.0.1:8000")


def test_api_key_header_is_sent(db_url: str) -> None:
    from tests.sdk.servers import api_server

    with api_server(db_url, api_key="s3cret") as url:
        with Client(url, api_key="wrong") as dl, pytest.raises(DriftlineAPIError) as err:
            dl.list_models()
        assert err.value.status == 401 and err.value.attempts == 1
        with Client(url, api_key="s3cret") as dl:
            assert dl.list_models() == []
