import assert from "node:assert/strict";
import { parseBehavePlain, renderReport, scenarioNames, withUnreached } from "../../scripts/compat/report.ts";

const FINISHED = `Failed to get list of machines from http://127.0.0.1:2379/v3beta: refused
Feature: basic replication

  Scenario: check replication of a single table
    Given I start postgres-0 ... passed in 3.007s
    Then postgres-0 is a leader after 10 seconds ... passed in 0.5s

  Scenario: check restart of sync replica
    Given I shut down postgres-2 ... failed in 0.001s
Traceback (most recent call last):
  File "features/environment.py", line 868, in wrapper
KeyError: 'postgres-2'

    Then postgres-0 is a leader after 10 seconds ... skipped in 0.000s

  Scenario: needs PostgreSQL 17
    Given I start postgres-0 ... skipped in 0.000s

  Scenario: check stuck sync replica
    Given I issue a PATCH request to http://127.0.0.1:8008/config with {} ... passed in 0.001s
    Then I receive a response code 200 ... failed in 0.000s
Assertion Failed: status code 411 != 200, response: None


Failing scenarios:
  features/basic_replication.feature:10  check restart of sync replica

0 features passed, 1 failed, 0 skipped
`;

Deno.test("parseBehavePlain() classifies each scenario and keeps its first failing step with the error line", () => {
  const rows = parseBehavePlain(FINISHED, "basic_replication");
  assert.deepEqual(rows, [
    { feature: "basic replication", scenario: "check replication of a single table", result: "passed" },
    {
      feature: "basic replication",
      scenario: "check restart of sync replica",
      result: "failed",
      firstFailure: "Given I shut down postgres-2 (failed): KeyError: 'postgres-2'",
    },
    { feature: "basic replication", scenario: "needs PostgreSQL 17", result: "skipped" },
    {
      feature: "basic replication",
      scenario: "check stuck sync replica",
      result: "failed",
      firstFailure:
        "Then I receive a response code 200 (failed): Assertion Failed: status code 411 != 200, response: None",
    },
  ]);
});

Deno.test("parseBehavePlain() marks the scenario running when the output stops (timeout) as unfinished", () => {
  const cut = `Feature: patroni api

  Scenario: check API requests on a stand-alone server
    Given I start postgres-0 ... passed in 3.0s

  Scenario: check switchover
    Given I start postgres-1 ... passed in 3.0s
    When I sleep for 5 seconds ... passed in 5.0s
COMPAT-RUNNER: timeout after 600s
`;
  const rows = parseBehavePlain(cut, "patroni_api");
  assert.equal(rows.length, 2);
  assert.equal(rows[0]!.result, "passed");
  assert.equal(rows[1]!.result, "unfinished");
  assert.match(rows[1]!.firstFailure!, /timeout after 2 steps/);
  const all = withUnreached(
    rows,
    scenarioNames(`Feature: patroni api
Scenario: check API requests on a stand-alone server
  Given I start postgres-0
  Scenario: check switchover
  Scenario: check reinitialize
`),
    "patroni_api",
  );
  assert.deepEqual(all.map((r) => [r.scenario, r.result]), [
    ["check API requests on a stand-alone server", "passed"],
    ["check switchover", "unfinished"],
    ["check reinitialize", "not run"],
  ]);
});

Deno.test("renderReport() counts per feature and in total, and escapes table cells", () => {
  const text = renderReport([
    { feature: "a", scenario: "one", result: "passed" },
    { feature: "a", scenario: "two | pipes", result: "failed", firstFailure: "Then x (failed): y" },
    { feature: "b", scenario: "three", result: "skipped" },
    { feature: "b", scenario: "four", result: "not run" },
  ], "Title");
  assert.match(text, /^Title\n/);
  assert.match(text, /\| a \| 1 \| 1 \| 0 \| 0 \|/);
  assert.match(text, /\| b \| 0 \| 0 \| 1 \| 1 \|/);
  assert.match(text, /\| \*\*total\*\* \| 1 \| 1 \| 1 \| 1 \|/);
  assert.match(text, /\| a \| two \\\| pipes \| failed \| Then x \(failed\): y \|/);
});
