"""`publisher publish --dry-run`: the plan, and with the registries read what each tag would do and the
conflicts the publish would refuse (its imports are lazy: an offline dry-run loads no registry client)."""

from __future__ import annotations

import json
import sys


def dry_run(job, offline: bool, output: str) -> int:
    """Print the plan, and what each tag would do where the registries were read; 2 where the publish would refuse."""
    from publisher.report import plan_table, state_table, supply_chain_line
    from publisher.release.supply import supply_chain

    if output.startswith("github-matrix"):  # what the jobs will be: the registries are not asked
        from publisher import github

        print(json.dumps((github.by_platform if output == "github-matrix" else github.by_variant_group)(job.plan)))
        return 0
    resolved, base_note = {}, None  # from-base variants' platforms, read from their bases with the repositories
    if offline:
        states, note = None, "not compared with the repositories: --offline"
    else:
        from publisher.holdings.preview import Survey, base_digests, compare, preview  # the registry client, only when it is used

        _check_wheels(job)
        with Survey(job.plan, job.options.base_mirror, job.options.cache) as survey:  # each base read once
            found = preview(survey)
            states, note = compare(survey, job.options.rules, found.platforms, base_digests(survey), _context_digest(job))
        _retired_notices(states)
        resolved, base_note = found.platforms, found.note
    carries = supply_chain(job.plan, job.options.sign_key is not None, job.options.attestations)
    if output == "json":
        document = job.plan.to_json(resolved)
        document["registry_state"] = _states_json(states)
        document["registry_note"] = note
        document["supply_chain"] = carries
        if base_note:  # only when a from-base variant's base could not be read
            document["base_note"] = base_note
        print(json.dumps(document, indent=2))
    else:
        table = plan_table(job.plan, resolved) + (f"\n{base_note}" if base_note else "")
        print(table + "\n" + supply_chain_line(carries) + "\n\n" + state_table(states, note))
    return _foreseen_conflicts(job.plan, states)


def _context_digest(job) -> str:
    """What the attestations of this publish would share, as its digest (an input of every variant)."""
    from publisher.image.attest import context_digest
    from publisher.steps.attest import shared_context

    return context_digest(shared_context(job.options, job.plan) if job.options.attestations else None)


def _foreseen_conflicts(plan, states: dict | None) -> int:
    """A dry-run that read the registries exits 2 where the publish would refuse, saying so as it would."""
    if not states:  # --offline, or not compared: nothing foreseen (and release/rerun not loaded)
        return 0
    from publisher import github
    from publisher.release.rerun import conflict_lines

    lines = conflict_lines(plan, {(ref, tag): d for ref, tags in states.items() for tag, d in tags.items()})
    for line in lines:
        print(github.annotated(line), file=sys.stderr)
    return 2 if lines else 0


def _check_wheels(job) -> None:
    """The payload's wheels of this release are on the package index with the matrix's platform tags, as the
    publish will download them (refused as the publish would be: one line naming the matrix's line, exit 2)."""
    from publisher.local.artifacts import check_release

    if not job.options.artifacts and job.plan.payload_version:
        check_release(job.plan.payload, job.plan.payload_version, job.plan.platforms)


def _retired_notices(states: dict | None) -> None:
    """On GitHub Actions each retired tag is also a notice (on stderr: stdout may be JSON)."""
    from publisher import github
    from publisher.report import retired_lines

    if github.active():
        for line in retired_lines(states):
            print(github.notice(line), file=sys.stderr)


def _states_json(states: dict | None) -> dict | None:
    if states is None:
        return None
    return {
        repo: {tag: {"status": d.status, "digest": d.current.digest, "version": d.current.version, "why": d.why}
               for tag, d in tags.items()}
        for repo, tags in states.items()
    }
