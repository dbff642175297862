"""The auditor's model pages over real HTTP against a real registry: every version
listed newest first; a version's page in words (no logged metric key shown), its
model card as HTML, its reports served sandboxed and framed, its SHAP summary with
plain feature names, its JSON downloads; two versions compared."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from pages_audit_support import NAME, registry_service, two_versions
from service_support import PageClient, Service

from triage.registry.compare import compare
from triage.registry.tracking import MlflowRegistry
from triage.service.model_views import card_html

pytestmark = pytest.mark.xdist_group("audit-pages-registry")


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> str:
    return two_versions(tmp_path_factory)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, tracking: str) -> Iterator[Service]:
    with registry_service(tmp_path_factory.mktemp("audit-models"), tracking) as svc:
        yield svc


@pytest.fixture
def auditor(running: Service) -> Iterator[PageClient]:
    with PageClient(running.url) as client:
        client.login(running.keys["auditor"])
        yield client


def _visible(html: str) -> str:
    """The page's text as a person reads it: no tags, no attributes."""
    body = html.split("<main", 1)[-1]
    return unescape(re.sub(r"<[^>]+>", " ", body))


def _metric_keys(tracking: str) -> set[str]:
    registry = MlflowRegistry(tracking)
    return {k for v in registry.versions(NAME) for k in v.metrics}


def test_the_list_shows_every_version_newest_first_in_words(
    auditor: PageClient, tracking: str
) -> None:
    r = auditor.get("/ui/models")
    assert r.status_code == 200
    table = r.text.split(f'id="versions-{NAME}"')[1].split("</table>")[0]
    assert re.findall(r'<tr class="version" data-version="(\d+)"', table) == ["2", "1"]
    registry = MlflowRegistry(tracking)
    v2 = registry.version(NAME, 2)
    row = _visible(table.split('data-version="2"')[1].split("</tr>")[0])
    assert "champion" in row
    assert f"{v2.metrics['pooled_model_roc_auc']:.3f}" in row
    assert f"(DASH {v2.metrics['pooled_dash_roc_auc']:.3f})" in row
    assert v2.tags["training.first_day"] in row
    assert v2.tags["data_fingerprint"][:12] in row
    assert "passed" in row
    assert f'href="/ui/models/{NAME}/2"' in table
    text = _visible(r.text)
    assert not [k for k in _metric_keys(tracking) if k in text]
    assert "No version of serious_harm_365d is registered yet." in text


def test_a_version_page_reads_in_words_with_its_card_as_html(
    auditor: PageClient, tracking: str
) -> None:
    r = auditor.get(f"/ui/models/{NAME}/1")
    assert r.status_code == 200
    text = _visible(r.text)
    leaked = [k for k in _metric_keys(tracking) if k in text]
    assert leaked == []
    v1 = MlflowRegistry(tracking).version(NAME, 1)
    metrics = r.text.split('id="metrics"')[1].split("</table>")[0]
    assert f"{v1.metrics['pooled_model_roc_auc']:.3f}" in metrics
    assert f"{v1.metrics['pooled_dash_recall_at_k']:.1%}" in metrics
    assert "DASH grade" in metrics
    assert "Prior incidents" in metrics
    gates = _visible(r.text.split('id="gates"')[1].split("</ul>")[0])
    assert "beats the" in gates
    assert "calibrated" in gates
    card = r.text.split('id="model-card"')[1].split("</article>")[0]
    assert "<h1>Model card" in card
    assert "<table>" in card
    assert "<pre" not in card
    for doc in ("evaluation", "fairness", "shap"):
        assert f'href="/ui/models/{NAME}/1/{doc}"' in r.text
    for f in ("evaluation.json", "fairness.json", "shap_summary.json"):
        assert f'href="/ui/models/{NAME}/1/files/{f}"' in r.text
    # the old address of a version opens the default queue's model (none registered here)
    old = auditor.get("/ui/models/1", follow=False)
    assert old.status_code == 404
    assert "serious_harm_365d has no version 1" in old.text


def test_the_card_renders_markdown_but_never_its_markup() -> None:
    html = card_html("# Card\n\n<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<table>" in html
    assert "<h1>Card</h1>" in html


def test_reports_are_framed_sandboxed_and_the_json_downloads(
    auditor: PageClient, tmp_path: Path, tracking: str
) -> None:
    page = auditor.get(f"/ui/models/{NAME}/2/fairness")
    assert page.status_code == 200
    src = f"/ui/models/{NAME}/2/files/fairness.html"
    assert f'sandbox src="{src}"' in page.text
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    report = auditor.get(src)
    assert report.status_code == 200
    policy = report.headers["content-security-policy"]
    assert "sandbox" in policy
    assert "script-src" not in policy
    assert "frame-ancestors 'self'" in policy
    assert report.headers["x-frame-options"] == "SAMEORIGIN"
    registry = MlflowRegistry(tracking)
    logged = registry.download_artifact(NAME, 2, "reports/fairness.html", tmp_path)
    assert report.content == Path(logged).read_bytes()  # the very report the CLI wrote
    download = auditor.get(f"/ui/models/{NAME}/2/files/evaluation.json")
    assert download.headers["content-type"] == "application/json"
    assert "attachment" in download.headers["content-disposition"]
    assert json.loads(download.content)
    for bad in ("model_card.md", "..%2Fbundle%2Fmanifest.json", "nope.html"):
        assert auditor.get(f"/ui/models/{NAME}/2/files/{bad}").status_code == 404, bad
    for path in (f"/ui/models/{NAME}/9", "/ui/models/nomodel/1", f"/ui/models/{NAME}/1/other"):
        r = auditor.get(path)
        assert r.status_code == 404, path
        assert "Traceback" not in r.text


def test_shap_names_features_in_words(auditor: PageClient, tmp_path: Path, tracking: str) -> None:
    r = auditor.get(f"/ui/models/{NAME}/2/shap")
    assert r.status_code == 200
    summary = MlflowRegistry(tracking).download_artifact(
        NAME, 2, "reports/shap_summary.json", tmp_path
    )
    features = json.loads(Path(summary).read_text())["features"]
    table = r.text.split('id="shap"')[1].split("</table>")[0]
    codes = re.findall(r'data-feature="([^"]+)"', table)
    ranked = sorted(features, key=lambda f: -f["mean_abs_shap"])
    assert codes == [f["feature"] for f in ranked[:25]]
    names = _visible(table)
    assert not [c for c in codes if "_" in c and c in names]  # no code shown as a name
    assert f'src="/ui/models/{NAME}/2/files/shap_bar.png"' in r.text
    png = auditor.get(f"/ui/models/{NAME}/2/files/shap_bar.png")
    assert png.headers["content-type"] == "image/png"
    assert png.content[:4] == b"\x89PNG"


def test_compare_shows_what_the_library_finds(auditor: PageClient, tracking: str) -> None:
    r = auditor.get(f"/ui/compare?model={NAME}&a=1&b=2")
    assert r.status_code == 200
    expected = compare(MlflowRegistry(tracking), NAME, 1, 2)
    text = _visible(r.text)
    for m in expected.metrics:
        assert m.title in text
    assert f"Raised: {len(expected.raised)}" in text
    assert f"Cleared: {len(expected.cleared)}" in text
    assert expected.same_data is True
    assert "the same" in text
    assert expected.overlap is not None
    assert f"{100 * expected.overlap.share:.1f}%" in text
    assert not [k for k in _metric_keys(tracking) if k in text]
    for query, status in (("a=1&b=1", 422), ("a=1&b=9", 404), ("a=x&b=2", 422)):
        bad = auditor.get(f"/ui/compare?model={NAME}&{query}")
        assert bad.status_code == status, query
        assert "Traceback" not in bad.text
    chooser = auditor.get(f"/ui/compare?model={NAME}")
    assert chooser.status_code == 200
    assert 'id="compare-form"' in chooser.text


def test_the_version_page_links_its_transparency_record(auditor: PageClient) -> None:
    page = auditor.get(f"/ui/models/{NAME}/2")
    assert f'href="/ui/models/{NAME}/2/transparency"' in page.text
    framed = auditor.get(f"/ui/models/{NAME}/2/transparency")
    assert framed.status_code == 200
    assert f'sandbox src="/ui/models/{NAME}/2/files/transparency.html"' in framed.text
    html = auditor.get(f"/ui/models/{NAME}/2/files/transparency.html")
    assert html.status_code == 200
    assert "sandbox" in html.headers["content-security-policy"]
    record = auditor.get(f"/ui/models/{NAME}/2/files/transparency.json")
    assert "attachment" in record.headers["content-disposition"]
    body = json.loads(record.content)
    assert body["model"]["version"] == 2
    assert body["model"]["name"] == NAME
