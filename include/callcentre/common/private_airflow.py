"""Every private Airflow API the project relies on, in one place, with why (nothing imported here).

``tests/unit/test_private_airflow.py`` resolves every entry of the running version, and fails on an
``airflow`` import in include/, plugins/ or dags/ (or a module the task preload names) that is neither
in :data:`PUBLIC` nor listed here for that file, and on a :data:`MARKERS` attribute used without an entry.
"""

from __future__ import annotations

from typing import NamedTuple


class PrivateApi(NamedTuple):
    target: str  # "module:attribute.path", or a module alone
    airflow: int  # the major version it is used on
    used_in: str  # the file that uses it, relative to the repository
    why: str
    annotation_only: bool = False  # declared by a module annotation, bound only at run time


_CALLBACK_WHY = "with DAG.fetch_callback: which task instances of the failed run are expanded, in its session"
_IN_PROCESS_WHY = "the failed runs in a row for the paused note when a DAG callback runs in-process (dag.test)"

PRIVATE_APIS: tuple[PrivateApi, ...] = (
    PrivateApi("airflow.sdk._shared.secrets_masker:redact", 3, "include/callcentre/common/compat.py",
               "mask connection passwords in Slack text; the SDK exports no public redact"),
    PrivateApi("airflow.sdk.execution_time.task_runner:SUPERVISOR_COMMS", 3, "include/callcentre/common/run_context.py",
               "whether a task runner relays Variables (else a DAG callback runs in-process: dag.test), and "
               "GetPreviousDagRun for the circuit-breaker note from a DAG callback in the dag-processor",
               annotation_only=True),
    PrivateApi("airflow.sdk.execution_time.comms:GetPreviousDagRun", 3, "include/callcentre/common/run_context.py",
               "the previous run's state from a DAG callback in the dag-processor"),
    PrivateApi("airflow.models.dag:DAG.fetch_callback", 2, "include/callcentre/common/airflow2_callback_context.py",
               "wrapped, once installed by dags/ivr_calls_daily.py, so a DAG failure callback gets the context of an "
               "expanded task (the upstream one picks tis[-1] with no ORDER BY)"),
    PrivateApi("airflow.api_fastapi.common.db.common:SessionDep", 3, "include/callcentre/ivr_page/app.py",
               "the api-server's per-request metadata session, as its own UI routes take it: the IVR page reads the "
               "DAG's runs in one SELECT (the REST API pages them 100 at a time; five years = 19 calls)"),
    PrivateApi("airflow.models.dagrun:DagRun", 3, "include/callcentre/ivr_page/app.py",
               "the runs of a logical-date window for the IVR page, read after the auth manager allowed it"),
    PrivateApi("airflow.models.taskinstance:TaskInstance", 3, "include/callcentre/ivr_page/app.py",
               "the IVR page's log link (a run's last failed or last started task) without a REST round trip"),
    PrivateApi("airflow.models.dag:DagModel", 3, "include/callcentre/scraping_page/app.py",
               "the watched DAGs' paused flags in the api-server's own database, for the jobs page's banner"),
    PrivateApi("airflow.utils.session:create_session", 3, "include/callcentre/scraping_page/app.py", "with DagModel"),
    PrivateApi("airflow.utils.log.secrets_masker:redact", 2, "include/callcentre/common/compat.py",
               "2.x's place of the redact the 3.x entry names"),
    PrivateApi("airflow.models:Variable", 3, "include/callcentre/common/variables.py",
               "the ORM Variable for a DAG callback run in-process (dag.test), where no task runner relays the SDK's"),
    PrivateApi("airflow.sdk.listener:get_listener_manager", 3, "include/callcentre/common/task_preload.py",
               "load the plugins' listeners once in the forkserver, not in every task process"),
    PrivateApi("airflow.sdk.providers_manager_runtime:ProvidersManagerTaskRuntime.initialize_providers_asset_uri_resources",
               3, "include/callcentre/common/task_preload.py",
               "discover the providers' asset URI handlers once in the forkserver, not in each task's parse of its DAG file"),
    PrivateApi("airflow.api_fastapi.auth.managers.base_auth_manager:COOKIE_NAME_JWT_TOKEN", 3,
               "include/callcentre/common/ui_page.py", "the UI's token cookie, read by the pages' API calls"),
    *(PrivateApi(target, 2, "include/callcentre/common/airflow2_callback_context.py", _CALLBACK_WHY) for target in (
        # The run, its task instances and one's context, rebuilt as the wrapped fetch_callback does.
        "airflow.models.dag:DAG.fetch_dagrun",
        "airflow.models.dagrun:DagRun.get_task_instances",
        "airflow.models.taskinstance:TaskInstance.get_template_context",
        "airflow.models.taskinstance:TaskInstance.task",
        "airflow.models.mappedoperator:MappedOperator",
        "airflow.models.expandinput:NotFullyPopulated",
        "airflow.utils.session:provide_session",
        "airflow.utils.session:NEW_SESSION",
        "airflow.utils.state:TaskInstanceState",
    )),
    *(PrivateApi(target, version, "include/callcentre/common/run_context.py", _IN_PROCESS_WHY) for target, version in (
        ("airflow.models.dagrun:DagRun", 2),
        ("airflow.models.dagrun:DagRun", 3),
        ("airflow.utils.session:create_session", 2),
        ("airflow.utils.session:create_session", 3),
    )),
) + tuple(
    PrivateApi(target, 3, f"include/callcentre/{page}/app.py", f"{why}, as Airflow's own routes do")
    for page in ("ivr_page", "scraping_page") for target, why in (
        ("airflow.api_fastapi.core_api.security:GetUserDep", "the signed-in user of a plugin's FastAPI route"),
        ("airflow.api_fastapi.core_api.security:requires_access_dag", "the DAG read/edit check of a plugin's route"))
) + (
    PrivateApi("airflow.api_fastapi.app:get_auth_manager", 3, "include/callcentre/common/ui_page.py",
               "the configured auth manager, asked about one user and DAG, as Airflow's own routes do"),
    PrivateApi("airflow.api_fastapi.auth.managers.models.resource_details:DagDetails", 3,
               "include/callcentre/common/ui_page.py", "the DAG the auth manager is asked about"),
    *(PrivateApi("airflow.api_fastapi.auth.managers.models.resource_details:DagAccessEntity", 3, f"include/callcentre/{where}",
                 "which part of a DAG (its runs, its task instances) a page or route check is about")
      for where in ("common/ui_page.py", "ivr_page/app.py", "scraping_page/app.py")),
) + tuple(
    # Imported by name, once, by the LocalExecutor's forkserver (tuning: a moved module is skipped
    # there, and fails here).
    PrivateApi(module, 3, "include/callcentre/common/task_preload.py", "preloaded for the task processes")
    for module in ("airflow.sdk.execution_time.task_runner", "airflow.dag_processing.dagbag",
                   "airflow.dag_processing.bundles.local", "airflow.sdk.definitions.decorators",
                   "airflow.sdk.definitions.decorators.condition", "airflow.sdk.definitions.decorators.setup_teardown",
                   "airflow.sdk.definitions.decorators.task_group", "airflow.sdk.definitions.asset.metadata",
                   "airflow.sdk.execution_time.cache")
)

# Airflow's public interface as we use it, per major version (its "Public Interface" pages for
# 3.x and 2.11): a module, or module:name, as fnmatch patterns. An import is checked against the
# version whose ``IS_AIRFLOW_2`` branch it sits in (both, outside any); any other needs an entry above.
_PROVIDERS = ("airflow.providers.*.hooks.*", "airflow.providers.*.notifications.*", "airflow.providers.*.decorators.*",
              "airflow.providers.*.sensors.*", "airflow.providers.*.operators.*")
PUBLIC = {
    3: ("airflow:__version__", "airflow.sdk", "airflow.sdk.exceptions", "airflow.plugins_manager",
        "airflow.timetables.base", *_PROVIDERS),
    2: ("airflow:__version__", "airflow.configuration", "airflow.plugins_manager", "airflow.exceptions",
        "airflow.hooks.base", "airflow.decorators", "airflow.models.param", "airflow.models:Variable",
        "airflow.models.dag:DAG", "airflow.operators.python", "airflow.sensors.base", "airflow.datasets",
        "airflow.io.path", "airflow.timetables.base", *_PROVIDERS),
}

# Private attributes of otherwise public objects: each marker found in include/, plugins/ or dags/
# must have an entry above naming that file.
MARKERS = ("_PythonDecoratedOperator", "rendered_map_index", "_shared", "SUPERVISOR_COMMS", "GetPreviousDagRun",
           "_get_next", "_get_prev", "_align_to_next", "_align_to_prev", "fetch_callback", "_describe_with_dom_dow_fix",
           "fetch_dagrun", "get_task_instances", "get_template_context")
