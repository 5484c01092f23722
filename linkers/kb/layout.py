"""The on-disk layout of a KB directory: one place that names every file and its dtype.

A KB directory is a handful of flat binary arrays (read with ``numpy.memmap``: opening maps
them, nothing is copied, and every worker process on a machine shares the same page-cache
pages), one orjson record per entity, and a marisa-trie of alias keys (also memory-mapped).

    meta.json         format, kb_version, counts, build report
    entities.bin      concatenated orjson records (see linkers.kb.dump), by internal id
    entities.off      uint64[n+1] byte offsets into entities.bin
    qids.u32          uint32[n] numeric QIDs, sorted; qids_order.u32 uint32[n] internal id of each
    pop.f32           float32[n] popularity in [0, 1]
    indeg.u32         uint32[n] in-degree (claims pointing at the entity, whole dump)
    aliases.marisa    marisa-trie of alias keys (linkers.text.alias_key)
    cand.off          uint64[k+1] per trie key id, its slice of the candidate arrays
    cand.ent          uint32 internal entity ids, best prior first
    cand.prior        float32 P(entity | alias key)
    cand.flags        uint8 bit0 label, bit1 acronym (matches only an upper-case mention),
                      bit2 partial name (a person's surname), bit3 alias, bit4 lower-case
                      name (a common noun: "bank"; never matched by a capitalised mention),
                      bit5 given name (a person's first name: listed after every other
                      candidate of the key, prior within the given names only; the spotter
                      leaves them out, the ranker admits one only with support in the text),
                      bit6 a region's bare name ("Hiroshima" for Hiroshima Prefecture; always
                      with bit2): prior within the key's region names only
    nbr.off           uint64[n+1]; nbr.ent uint32 — out-links (item claims) between KB entities
"""
from __future__ import annotations

FORMAT = "factlink-kb/1"

META = "meta.json"
ENTITIES = "entities.bin"
ARRAYS = {
    "entities_off": ("entities.off", "uint64"),
    "qids": ("qids.u32", "uint32"),
    "qids_order": ("qids_order.u32", "uint32"),
    "pop": ("pop.f32", "float32"),
    "indeg": ("indeg.u32", "uint32"),
    "cand_off": ("cand.off", "uint64"),
    "cand_ent": ("cand.ent", "uint32"),
    "cand_prior": ("cand.prior", "float32"),
    "cand_flags": ("cand.flags", "uint8"),
    "nbr_off": ("nbr.off", "uint64"),
    "nbr_ent": ("nbr.ent", "uint32"),
}
TRIE = "aliases.marisa"

FLAG_LABEL = 1
FLAG_ACRONYM = 2
FLAG_PARTIAL = 4
FLAG_ALIAS = 8
FLAG_LOWER = 16
FLAG_GIVEN = 32
FLAG_REGION = 64
