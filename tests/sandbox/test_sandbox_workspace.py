"""Workspace API through the unmodified WorkspaceClient: seeded tree, import (JSON and multipart),
export, mkdirs, delete, and the service's typed errors."""

from __future__ import annotations

import base64
import io

import pytest
from databricks.sdk import errors
from databricks.sdk.service import workspace

HOME = "/Users/sandbox-user@example.com"


def test_seeded_notebooks_and_files(w):
    nb = w.workspace.get_status("/Shared/job-agent/notebooks/ingest")
    assert nb.object_type == workspace.ObjectType.NOTEBOOK and nb.language == workspace.Language.PYTHON
    assert nb.path == "/Shared/job-agent/notebooks/ingest" and nb.object_id > 0
    # the /Workspace prefix names the same object
    assert w.workspace.get_status(f"/Workspace{HOME}/reports/daily_revenue").language == workspace.Language.SQL
    f = w.workspace.get_status("/Shared/job-agent/scripts/cleanup.py")
    assert f.object_type == workspace.ObjectType.FILE and f.size > 0
    names = sorted(o.path for o in w.workspace.list(f"{HOME}/etl"))
    assert names == [f"{HOME}/etl/ingest_orders", f"{HOME}/etl/transform_orders"]
    assert {o.object_type for o in w.workspace.list("/Shared/job-agent")} == {workspace.ObjectType.DIRECTORY}


def test_missing_path_is_resource_does_not_exist(w):
    with pytest.raises(errors.ResourceDoesNotExist, match=r"Path \(/Shared/nope\) doesn't exist"):
        w.workspace.get_status("/Shared/nope")


def test_other_users_home_is_permission_denied(w):
    with pytest.raises(errors.PermissionDenied):
        list(w.workspace.list("/Users/other-user@example.com"))


def test_mkdirs_import_json_export_and_overwrite(w):
    w.workspace.mkdirs(f"{HOME}/new/deep")
    assert w.workspace.get_status(f"{HOME}/new").object_type == workspace.ObjectType.DIRECTORY
    src = "# Databricks notebook source\nprint(1)\n"
    w.workspace.import_(f"{HOME}/new/deep/nb", content=base64.b64encode(src.encode()).decode(),
                        format=workspace.ImportFormat.SOURCE, language=workspace.Language.PYTHON)
    st = w.workspace.get_status(f"{HOME}/new/deep/nb")
    assert st.object_type == workspace.ObjectType.NOTEBOOK and st.language == workspace.Language.PYTHON
    assert base64.b64decode(w.workspace.export(f"{HOME}/new/deep/nb").content).decode() == src
    with pytest.raises(errors.ResourceAlreadyExists):
        w.workspace.import_(f"{HOME}/new/deep/nb", content="", format=workspace.ImportFormat.SOURCE,
                            language=workspace.Language.PYTHON)
    w.workspace.import_(f"{HOME}/new/deep/nb", content=base64.b64encode(b"# Databricks notebook source\n").decode(),
                        format=workspace.ImportFormat.SOURCE, language=workspace.Language.PYTHON, overwrite=True)
    assert w.workspace.get_status(f"{HOME}/new/deep/nb").object_id == st.object_id


def test_upload_is_multipart_and_auto_detects(w):
    w.workspace.upload(f"{HOME}/up.py", io.BytesIO(b"print('file')\n"), format=workspace.ImportFormat.AUTO)
    assert w.workspace.get_status(f"{HOME}/up.py").object_type == workspace.ObjectType.FILE
    w.workspace.upload(f"{HOME}/up_nb", io.BytesIO(b"# Databricks notebook source\nx = 1\n"),
                       format=workspace.ImportFormat.AUTO)
    assert w.workspace.get_status(f"{HOME}/up_nb").object_type == workspace.ObjectType.NOTEBOOK
    with w.workspace.download(f"{HOME}/up.py") as fh:
        assert fh.read() == b"print('file')\n"


def test_import_into_missing_folder_and_without_language(w):
    with pytest.raises(errors.ResourceDoesNotExist, match="parent folder"):
        w.workspace.import_("/Shared/ghost/nb", content="", format=workspace.ImportFormat.SOURCE,
                            language=workspace.Language.PYTHON)
    with pytest.raises(errors.InvalidParameterValue, match="language"):
        w.api_client.do("POST", "/api/2.0/workspace/import", body={"path": "/Shared/x", "format": "SOURCE",
                                                                    "content": ""})


def test_delete_needs_recursive_for_non_empty_folders(w):
    with pytest.raises(errors.BadRequest) as e:
        w.workspace.delete("/Shared/job-agent/notebooks")
    assert e.value.error_code == "DIRECTORY_NOT_EMPTY"
    w.workspace.delete("/Shared/job-agent/notebooks", recursive=True)
    with pytest.raises(errors.ResourceDoesNotExist):
        w.workspace.get_status("/Shared/job-agent/notebooks/ingest")


def test_mkdirs_over_a_file_is_refused(w):
    with pytest.raises(errors.ResourceAlreadyExists):
        w.workspace.mkdirs("/Shared/job-agent/scripts/cleanup.py/sub")
