"""Tags: the list of a repository's tags, following `Link` pages where a registry has them."""

from __future__ import annotations

from publisher.remote.client import Call, Client
from publisher.remote.errors import RegistryError


class Tags(Client):
    def list_tags(self, repo: str) -> list[str]:
        tags: list[str] = []
        url = "/tags/list"
        while url:
            call = Call("GET", url, "tags", ok=(200, 404))
            response = self.call(repo, call)
            if response.status_code == 404:
                if "NAME_UNKNOWN" in self.codes(response):
                    return []
                raise self.error(response, repo, call)
            try:
                tags += response.json().get("tags") or []
            except (ValueError, AttributeError):
                raise RegistryError(self.host, repo, "GET", "tags", "answer is not a JSON tag list") from None
            link = response.links.get("next", {}).get("url")
            url = str(response.url.join(link)) if link else None
        return tags
