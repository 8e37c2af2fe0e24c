"""Blobs: exists, mount, upload (one streamed PUT, or PATCH chunks), get, and streamed download."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from publisher.image.oci import digest as sha256_digest
from publisher.remote.client import Call, Client
from publisher.remote.errors import RegistryError, Unreachable
from publisher.remote.retry import TRANSIENT
from publisher.remote.transport import FAILURES, Extent

# Faults of an upload session after which the blob is looked up and sent again in a new session.
SESSION_CODES = frozenset({"BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"})


class Committed:
    """The blobs this client committed or found in each repository, and one lock per blob: two threads of one
    publish never send the same blob to a repository at once. distribution rewrites a blob's link file on each
    commit, and a manifest put meanwhile reads it as an invalid digest (seen with the empty `{}` config every
    bundle shares)."""

    def __init__(self):
        self.held: set[tuple[str, str]] = set()
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, repo: str, digest: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((repo, digest), threading.Lock())


class Blobs(Client):
    chunk_size = 128 * 1024 * 1024  # larger files go in PATCHes of this size

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.committed = Committed()

    def blob_exists(self, repo: str, digest: str) -> bool:
        response = self.call(repo, Call("HEAD", f"/blobs/{digest}", f"blob {digest}", ok=(200, 404)))
        return response.status_code == 200

    def start_upload(self, repo: str) -> str:
        """Open an upload session (proves push permission); its Location."""
        what = "upload session"
        response = self.call(repo, Call("POST", "/blobs/uploads/", what, ok=(202,), push=True, retry=False))
        return self.location(response, repo, what)

    def cancel_upload(self, repo: str, location: str) -> bool:
        """Cancel a session; False where the registry would not (token auth wants `delete` for it)."""
        call = Call("DELETE", location, "upload session", ok=(200, 202, 204), push=True, retry=False, reauth=False)
        try:
            self.call(repo, call)
        except RegistryError:
            return False
        return True

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        return self.mount_or_session(repo, digest, from_repo) is None

    def mount_or_session(self, repo: str, digest: str, from_repo: str) -> str | None:
        """None if mounted; else the upload session the registry opened instead (202), to upload through."""
        what = f"mount of blob {digest} from {from_repo}"
        response = self.call(repo, Call("POST", "/blobs/uploads/", what, ok=(201, 202), push=True,
                                        mount_from=from_repo, params={"mount": digest, "from": from_repo}))
        return None if response.status_code == 201 else self.location(response, repo, what)

    def upload_blob(self, repo: str, digest: str, data: bytes | Path, session: str | None = None,
                    ask_first: bool = True) -> bool:
        """Upload unless the registry has the blob already; True if bytes were sent.

        `session`: an upload session the registry opened already (a mount it answered with 202).
        `ask_first` False: a small blob new by construction (a signature where the repository has none) is sent without
        a HEAD first; sending it again is cheaper than asking each time.
        A failed session is never resumed through an old Location: the blob is looked up (the
        commit may have landed before the failure) and, if absent, sent again in a new session.
        A blob this client committed or found in `repo` already is not sent again (`Committed`).
        """
        with self.committed.lock(repo, digest):
            if (repo, digest) in self.committed.held:
                return False
            sent = self._upload(repo, digest, data, session, ask_first)
            self.committed.held.add((repo, digest))
            return sent

    def _upload(self, repo: str, digest: str, data: bytes | Path, session: str | None, ask_first: bool) -> bool:
        if session is None and ask_first and self.blob_exists(repo, digest):
            return False
        attempts = self.policy.attempt()
        while True:
            try:
                size = self._upload_session(repo, digest, data, session)
                break
            except RegistryError as error:
                # Content-addressed: a blob present now is exactly these bytes, whoever committed it
                # (our lost answer, or a publish racing us that the registry let win).
                if self.blob_exists(repo, digest):
                    size = data.stat().st_size if isinstance(data, Path) else len(data)
                    break
                if not _session_fault(error) or not attempts.again(error.retry_after):
                    raise
                session = None
        self.transport.count("blob_uploads")
        self.transport.count("bytes_uploaded", size)
        return True

    def _upload_session(self, repo: str, digest: str, data: bytes | Path, session: str | None) -> int:
        what = f"upload of blob {digest}"
        if session is None:
            started = self.call(repo, Call("POST", "/blobs/uploads/", what, ok=(202,), push=True, retry=False))
            session = self.location(started, repo, what)
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        if isinstance(data, Path) and size > self.chunk_size:
            session = self._upload_chunks(repo, session, data, what)
            data = b""
        self._put_upload(repo, session, digest, data, what)
        return size

    def _upload_chunks(self, repo: str, location: str, path: Path, what: str) -> str:
        """PATCHes of `chunk_size` bytes, each streamed from the file (never held in memory)."""
        size = path.stat().st_size
        for offset in range(0, size, self.chunk_size):
            length = min(self.chunk_size, size - offset)
            headers = {"Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{offset + length - 1}"}
            # 202 Accepted per the distribution spec; go-containerregistry's registry says 204 No
            # Content (same Location and Range headers), so both mean "chunk taken".
            response = self.call(repo, Call("PATCH", location, what, ok=(202, 204), push=True, headers=headers,
                                            body=Extent(path, offset, length), retry=False))
            location = self.location(response, repo, what)
        return location

    def _put_upload(self, repo: str, location: str, digest: str, body: bytes | Path, what: str) -> None:
        headers = {"Content-Type": "application/octet-stream"}
        self.call(repo, Call("PUT", location, what, ok=(201,), push=True, headers=headers, body=body,
                             params={"digest": digest}, retry=False))

    def get_blob(self, repo: str, digest: str) -> bytes:
        response = self.call(repo, Call("GET", f"/blobs/{digest}", f"blob {digest}"))
        if sha256_digest(response.content) != digest:
            raise RegistryError(self.host, repo, "GET", f"blob {digest}", "content does not match its digest")
        return response.content

    def download_blob(self, repo: str, digest: str, target: Path) -> None:
        """Stream a blob into `target` (atomically), checking its digest; memory stays bounded."""
        what = f"blob {digest}"
        attempts = self.policy.attempt()
        while True:
            partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
            response = self.call(repo, Call("GET", f"/blobs/{digest}", what, stream=True))
            try:
                found = _save(response, partial)
            except Unreachable as unreachable:
                partial.unlink(missing_ok=True)
                if attempts.again():
                    continue
                raise RegistryError(self.host, repo, "GET", what, unreachable.message) from None
            finally:
                response.close()
            if found != digest:
                partial.unlink(missing_ok=True)
                raise RegistryError(self.host, repo, "GET", what, "content does not match its digest")
            os.replace(partial, target)
            return


def _save(response, partial: Path) -> str:
    sha = hashlib.sha256()
    try:
        with partial.open("wb") as file:
            for chunk in response.iter_bytes(1 << 20):
                sha.update(chunk)
                file.write(chunk)
    except FAILURES as exc:
        raise Unreachable(exc) from None
    return "sha256:" + sha.hexdigest()


def _session_fault(error: RegistryError) -> bool:
    return error.status is None or error.status in TRANSIENT or error.code in SESSION_CODES
