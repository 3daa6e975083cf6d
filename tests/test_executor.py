"""The lithops executor plugin as Snakemake sees it."""

from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry

from snakemake_executor_plugin_lithops import ExecutorSettings


def test_snakemake_finds_the_plugin_and_its_settings():
    plugin = ExecutorPluginRegistry().get_plugin("lithops")
    assert plugin.common_settings.non_local_exec
    assert plugin.settings_cls is ExecutorSettings
