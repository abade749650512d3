from tests.service.providers_config.support import _workspace_deepl_server, workspace_deepl

__all__ = ["_workspace_deepl_server", "workspace_deepl"]
