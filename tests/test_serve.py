"""`nmtkit serve`, the real server on an ephemeral 127.0.0.1 port, spoken to over HTTP: answers
equal `translate`'s, concurrent requests each get their own, bad requests their codes, a full
queue 503s, and SIGTERM drains. Each test waits on a state the server reports (/ready, /metrics),
never on time."""

import json
import re
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from nmtkit.translate import Translator
from tests.test_training_engine import ROOT, default_signal_handlers

SENTENCES = ["3 May 2001", "the 4th of July 1976", "", "Dec 25, 1999", "1 January 2000", "22.7.1997",
             "17 JULY 2006", "Sep 28 1961", "Mon 3 Mar 2003"]


class Server:
    def __init__(self, model, *options):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nmtkit.cli", "serve", "-m", str(model), "--port", "0", *map(str, options)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signal_handlers)
        assert select.select([self.process.stderr], [], [], 120)[0], "no 'serving on' line in 120 s"
        line = self.process.stderr.readline()
        self.url = re.search(r"http://\S+", line).group(0)
        deadline = time.monotonic() + 120
        while self.get("/ready")[0] != 200:  # loading the model, tracing its search
            assert self.process.poll() is None and time.monotonic() < deadline, line
            time.sleep(0.1)

    def request(self, method, path, body=None):
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers

    def get(self, path):
        try:
            return self.request("GET", path)
        except urllib.error.URLError:
            return None, "", {}

    def translate(self, body):
        status, text, headers = self.request("POST", "/v1/translate", body)
        return status, json.loads(text), headers

    def metric(self, name):
        found = re.search(rf"^{name} (\S+)$", self.get("/metrics")[1], re.MULTILINE)
        return float(found.group(1)) if found else None

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=120)
        return self.process.returncode, stderr


@pytest.fixture(scope="module")
def server(trained_model):
    running = Server(trained_model, "--max-sentences", 16, "--max-chars", 400)
    yield running
    assert running.stop()[0] == 0


def test_concurrent_requests_each_get_their_own_translations(server, trained_model):
    translator = Translator([trained_model])
    expected = {line: t.text for line, t in zip(SENTENCES, translator.translate(SENTENCES))}
    requests = [SENTENCES[i:] + SENTENCES[:i] for i in range(len(SENTENCES))] * 3
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda lines: server.translate({"text": lines}), requests))
    for lines, (status, body, _) in zip(requests, answers):
        assert status == 200
        assert [t["text"] for t in body["translations"]] == [expected[line] for line in lines]
    assert server.metric("nmtkit_sentences_total") >= len(SENTENCES) * len(requests)

    wider = translator.with_settings(n_best=3, beam_size=4, length_penalty=0.6).translate(SENTENCES[:2])
    status, body, _ = server.translate({"text": SENTENCES[:2], "beam": 4, "n_best": 3, "length_penalty": 0.6})
    assert status == 200
    for got, want in zip(body["translations"], wider):
        assert [c["text"] for c in got["n_best"]] == [c.text for c in want.candidates]
        assert got["score"] == pytest.approx(want.candidates[0].score, abs=1e-4)


@pytest.mark.parametrize("body, status, fragment", [
    (b"{not json", 400, "not JSON"),
    ({"txt": ["a"]}, 400, "unknown field 'txt'"),
    ({"text": "3 May 2001"}, 400, "list of strings"),
    ({"text": ["a\nb"]}, 400, "line breaks"),
    ({"text": ["a"], "beam": 0}, 400, '"beam" must be between'),
    ({"text": ["a"], "beam": 99}, 400, '"beam" must be between'),
    ({"text": ["a"], "n_best": 9}, 400, "beam at least as wide"),
    ({"text": ["a"] * 17}, 413, "17 sentences"),
    ({"text": ["a" * 401]}, 413, "401 characters"),
])
def test_bad_requests_get_their_codes(server, body, status, fragment):
    got, answer, _ = server.translate(body)
    assert got == status and fragment in answer["error"], answer


def test_an_empty_list_answers_an_empty_list(server):
    assert server.translate({"text": []})[:2] == (200, {"translations": []})
    assert server.get("/health")[0] == 200


def test_a_full_queue_answers_503_and_loses_no_request(trained_model):
    # The search thread gathers for 5 s after the first request, holding the 2 it may take.
    server = Server(trained_model, "--max-pending", 2, "--max-delay-ms", 5000)
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(server.translate, {"text": ["3 May 2001"]}) for _ in range(2)]
        while server.metric("nmtkit_pending_requests") != 2:
            assert server.process.poll() is None
            time.sleep(0.02)
        refused = [server.translate({"text": ["3 May 2001"]}) for _ in range(4)]
        assert [a.result()[0] for a in held] == [200, 200]
    assert [status for status, _, _ in refused] == [503] * 4
    assert all(headers.get("Retry-After") == "1" for _, _, headers in refused)
    assert server.stop()[0] == 0


def test_sigterm_answers_the_requests_in_flight_then_exits_0(trained_model):
    server = Server(trained_model, "--max-delay-ms", 5000)  # requests wait 5 s for company
    with ThreadPoolExecutor(3) as pool:
        answers = [pool.submit(server.translate, {"text": [line]}) for line in SENTENCES[:3]]
        while server.metric("nmtkit_pending_requests") != 3:
            assert server.process.poll() is None
            time.sleep(0.02)
        code, stderr = server.stop()
        assert [a.result()[0] for a in answers] == [200, 200, 200]
    assert code == 0 and "Traceback" not in stderr


def test_a_directory_that_is_not_a_model_is_one_line_and_66(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nmtkit.cli", "serve", "-m", str(tmp_path), "--port", "0"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    last = result.stderr.strip().splitlines()[-1]  # after the "serving ... on" line
    assert result.returncode == 66 and "Traceback" not in result.stderr
    assert last.startswith(f"nmtkit: error: {tmp_path} is not an nmtkit model directory")
