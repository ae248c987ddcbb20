"""diversify: per-family cap and fact/field de-duplication of a ranking's first paths."""

from __future__ import annotations

import pytest

from retriever import DocHit
from retriever.diversify import diversify, fact_key, field_key, source_family


def hit(path: str, heading: tuple[str, ...] = (), text: str = "x.") -> DocHit:
    return DocHit(text=text, source="s", path=path, title="t", heading_path=heading, score=0.0)


def test_source_family():
    assert source_family("terraform-provider-databricks/docs/resources/job.md") == "terraform-provider-databricks"
    assert source_family("sdk:jobs.JobSettings.timeout_seconds") == "sdk"
    assert source_family("top.md") == ""


def test_off_returns_the_ranking_unchanged():
    hits = [hit(f"a/{i}.md") for i in range(8)]
    assert diversify(hits) == hits


def test_cap_moves_the_extra_paths_of_one_family_after_the_window():
    hits = [hit("a/1.md"), hit("a/2.md"), hit("a/1.md", text="second chunk"), hit("a/3.md"),
            hit("b/1.md"), hit("a/4.md"), hit("c/1.md"), hit("d/1.md"), hit("e/1.md")]
    out = diversify(hits, window=5, cap=2)
    assert [h.path for h in out] == ["a/1.md", "a/2.md", "a/1.md", "b/1.md", "c/1.md", "d/1.md",
                                     "a/3.md", "a/4.md", "e/1.md"]
    assert sorted(map(id, out)) == sorted(map(id, hits))


def test_fact_dedupe_keeps_one_copy_of_a_field_description():
    bundle = hit("cli-bundle-schema/resources.clusters.md", ("`resources.clusters.<name>.runtime_engine`",),
                 "Type: `compute.RuntimeEngine`\n\nDetermines the cluster's runtime engine, either standard or Photon.")
    bundle_jobs = hit("cli-bundle-schema/resources.jobs.md", ("`resources.jobs.<name>.new_cluster.runtime_engine`",),
                      "Type: `compute.RuntimeEngine`\n\nDetermines the cluster's runtime engine, either standard or Photon.")
    sdk = hit("databricks-sdk-py-dataclasses/compute.md", ("Data class `ClusterSpec`", "runtime_engine"),
              "- **`runtime_engine`** (`Optional[RuntimeEngine]`): Determines the cluster's runtime engine, "
              "either standard or Photon.\n\n  More.")
    tf = hit("terraform-provider-databricks/docs/resources/cluster.md", ("Argument Reference", "runtime_engine"),
             "* `runtime_engine` - (Optional) The type of runtime engine to use.")
    assert fact_key(bundle) == fact_key(bundle_jobs) == fact_key(sdk) is not None
    assert fact_key(tf) != fact_key(bundle)
    assert fact_key(hit("a.md")) is None
    out = diversify([bundle, bundle_jobs, sdk, tf], window=2, dedupe="fact")
    assert out == [bundle, tf, bundle_jobs, sdk]
    # one field per family: the sdk copy is another family, so it stays
    assert field_key(bundle) == field_key(bundle_jobs) != field_key(sdk)
    assert diversify([bundle, bundle_jobs, sdk, tf], window=2, dedupe="field") == [bundle, sdk, bundle_jobs, tf]


@pytest.mark.parametrize("kwargs", [{"window": 0}, {"cap": 0}, {"dedupe": "words"}])
def test_bad_settings_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        diversify([hit("a.md")], **kwargs)
