"""Job statuses and errors in plain words for staff, in the language chosen in the Airflow UI
(English or Spanish); the technical text stays one click away on the page."""

from __future__ import annotations

import re

from callcentre.common.language import LANGUAGES

_STATUSES = {  # (English, Spanish)
    "pending": ("Waiting to start", "En espera"),
    "processing": ("In progress", "En curso"),
    "retrying": ("Retrying", "Reintentando"),
    "completed": ("Done", "Terminado"),
    "failed": ("Failed", "Fallido"),
    "timeout": ("Timed out", "Tiempo agotado"),
}
STATUS_WORDS = {status: en for status, (en, _) in _STATUSES.items()}
_STATUS_WORDS_ES = {status: es for status, (_, es) in _STATUSES.items()}

# First match wins; {0}, {1}... are the pattern's groups. Checked against the raw error text.
_PLAIN = [
    (r"^marked as timeout by (.+?) \(was \w+\)", "Stopped by {0} (marked as timed out).",
     "Detenido por {0} (marcado como tiempo agotado)."),
    (r"^retry (\d+) requested by (.+?);", "Retry {0} requested by {1}.", "Reintento {0} pedido por {1}."),
    (r"worker lost|no failure callback ran", "Processing stopped unexpectedly (the Airflow worker was lost). Retry it.",
     "El proceso se detuvo de forma inesperada (se perdió el worker de Airflow). Reinténtelo."),
    (r"^retry refused by Airflow", "Airflow refused the retry. Try it again here, or tell the Airflow administrators.",
     "Airflow rechazó el reintento. Vuelva a intentarlo aquí o avise a los administradores de Airflow."),
    (r"(?:after its|its) (\d+)-minute timeout|passed its timeout of ([\d.]+) minutes",
     "Took longer than the {0} minutes allowed.", "Tardó más de los {0} minutos permitidos."),
    (r"Airflow run no longer exists|DAG run not found", "Its Airflow run was deleted, so it cannot finish.",
     "Su ejecución de Airflow fue borrada, así que no puede terminar."),
    (r"(?:outside|not found in|missing from) the uploads folder|upload .* unreadable",
     "The uploaded file is no longer in the uploads folder. Upload it again.",
     "El archivo subido ya no está en la carpeta de cargas. Súbalo de nuevo."),
    (r"Variable \w+ .*is set|has no host", "Airflow is not fully set up for uploads: tell the Airflow administrators.",
     "Airflow no está del todo configurado para las cargas: avise a los administradores de Airflow."),
    (r"^conf\.\w+=", "The run was started with a setting out of range. Upload the file again from this page.",
     "La ejecución se inició con un ajuste fuera de rango. Suba el archivo de nuevo desde esta página."),
    (r"answered (\d+) of (\d+) numbers", "The lookup service answered only {0} of {1} numbers of part of the list. Retry it.",
     "El servicio de consulta respondió solo {0} de {1} números de una parte de la lista. Reinténtelo."),
    (r"succeeded but wrote no results file", "Finished, but no results workbook was written. Retry it.",
     "Terminó, pero no se escribió el libro de resultados. Reinténtelo."),
    (r"HTTP (?:401|403)\b", "The lookup service refused our credentials: tell the Airflow administrators.",
     "El servicio de consulta rechazó nuestras credenciales: avise a los administradores de Airflow."),
    (r"HTTP 429\b|throttled", "The lookup service was too busy and asked us to wait. Retry it later.",
     "El servicio de consulta estaba saturado y pidió esperar. Reinténtelo más tarde."),
    (r"HTTP 5\d\d\b|unreachable|ConnectionError|ConnectTimeout|ReadTimeout|non-JSON body",
     "The lookup service did not answer properly (it may be down). Retry it later.",
     "El servicio de consulta no respondió bien (puede estar caído). Reinténtelo más tarde."),
    (r"HTTP 4\d\d\b.*not retried", "The lookup service refused the list; it is not retried.",
     "El servicio de consulta rechazó la lista; no se reintenta."),
    (r"could not process batch", "The lookup service could not process part of the list. Retry it.",
     "El servicio de consulta no pudo procesar una parte de la lista. Reinténtelo."),
    (r"timed out|timeout", "Took too long and was stopped.", "Tardó demasiado y se detuvo."),
]
_PLAIN = [(re.compile(pattern, re.IGNORECASE), {"en": en, "es": es}) for pattern, en, es in _PLAIN]
_FILE_PROBLEM = {"en": "Problem with the file: ", "es": "Problema con el archivo: "}
_UNKNOWN = {"en": "Something went wrong; the details below tell the Airflow administrators what.",
            "es": "Algo salió mal; el detalle técnico de abajo les dice qué a los administradores de Airflow."}


def status_words(lang: str = "en") -> dict[str, str]:
    return _STATUS_WORDS_ES if lang == "es" else STATUS_WORDS


def plain_error(error: str | None, file_name: str = "", lang: str = "en") -> str:
    """One sentence a staff member understands, for a job's ``last_error`` (English for an unknown ``lang``)."""
    lang = lang if lang in LANGUAGES else "en"
    if not error:
        return ""
    for pattern, words in _PLAIN:
        match = pattern.search(error)
        if match:
            return words[lang].format(*[g for g in match.groups() if g is not None])
    if file_name and error.startswith(f"{file_name}: "):
        # The workbook's own checks speak to the uploader ("no phone column in sheet ..."); they are
        # written in English by the pipeline and shown as they are.
        return _FILE_PROBLEM[lang] + error[len(file_name) + 2:]
    return _UNKNOWN[lang]
