"""A missing include's suggestions never list the config being composed (issue 15: they did)."""

from __future__ import annotations

import pytest

from heyhi.config.compose import Composer
from heyhi.config.project import Project
from heyhi.errors import ConfigError


def test_the_config_being_run_is_not_suggested_as_an_include(corpus):
    comp = Composer(Project(corpus))
    config = corpus / "conf/c02_sup_train/sl_20200901.prototxt"
    with pytest.raises(ConfigError) as e:
        comp.compose(config, ["Ilauncher=no_such_include"])
    known = e.value.message.split("known includes: ", 1)[1].split(", ")
    assert "sl_20200901" not in known and "sl_20211119_base" in known  # its siblings still are
