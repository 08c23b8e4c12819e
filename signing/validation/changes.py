"""Changes made to a PDF after a signature, each classified allowed or forbidden.

An incremental update may legitimately add a signature, fill a form, add a comment or append
validation data (DSS, document time-stamps). Anything else — pages added or removed, a content
stream or font replaced, the signature dictionary edited, an object that was hidden at signing
revealed later (shadow attacks) — changes what the signer saw and is forbidden.

pyHanko's difference analysis is strict about form filling but refuses every annotation, and it
takes the revision a signature belongs to from its signature dictionary's *last* change, which an
attacker can move (the replaced-/Reason spoof). So the revision is fixed from the bytes (where
the signed range ends) and each object rewritten after it is classified here by what it was in
the signed revision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader

from signing.validation.report import Change

_MESSAGES = {
    "form_filling": ("điền biểu mẫu", "form filling"),
    "annotations": ("thêm hoặc sửa chú thích", "annotations added or changed"),
    "signature_added": ("thêm chữ ký số sau", "later signature added"),
    "validation_data": (
        "bổ sung dữ liệu kiểm tra (DSS, dấu thời gian)",
        "validation data (DSS, time-stamps)",
    ),
    "metadata": ("cập nhật siêu dữ liệu", "metadata updated"),
    "pages_added": ("trang được thêm sau khi ký", "a page was added after signing"),
    "pages_removed": ("trang bị xóa sau khi ký", "pages were removed after signing"),
    "pages_replaced": ("trang bị thay thế hoặc sắp xếp lại", "pages were replaced or reordered"),
    "content_replaced": ("nội dung trang bị thay đổi", "page content was replaced"),
    "signature_dictionary_edited": (
        "từ điển chữ ký bị sửa sau khi ký",
        "the signature dictionary was edited after signing",
    ),
    "objects_replaced": (
        "đối tượng đã ký bị thay thế (có thể là tấn công che giấu nội dung)",
        "signed objects were replaced (possible shadow attack)",
    ),
    "catalog_modified": ("danh mục tài liệu bị thay đổi", "the document catalog was changed"),
    "objects_removed": ("đối tượng đã ký bị xóa", "signed objects were removed"),
    "form_structure_changed": (
        "cấu trúc trường biểu mẫu bị thay đổi",
        "form field properties changed",
    ),
    "docmdp_violation": (
        "thay đổi vượt quá quyền cho phép của chữ ký chứng thực",
        "changes exceed the permissions of the certification signature",
    ),
    "locked_field_changed": (
        "trường biểu mẫu bị chữ ký khóa (FieldMDP) đã bị thay đổi",
        "a form field locked by the signature (FieldMDP) was changed",
    ),
    "unreadable_update": (
        "phần cập nhật sau khi ký không đọc được",
        "the update made after signing cannot be read",
    ),
    "signature_dictionary_copied": (
        "từ điển chữ ký bị sao chép ra ngoài vùng đã ký (giả mạo)",
        "the signature dictionary was copied outside the signed range (spoofing)",
    ),
}
ALLOWED = {"form_filling", "annotations", "signature_added", "validation_data", "metadata"}

_FIELD_VALUE_KEYS = {"/V", "/AP", "/AS", "/F", "/Ff", "/DA", "/Q", "/MK", "/P", "/Type", "/DV"}
_ACROFORM_KEYS = {"/Fields", "/DR", "/DA", "/NeedAppearances", "/SigFlags", "/Q"}
_ROOT_ALLOWED = {"/AcroForm", "/DSS", "/Metadata", "/Extensions", "/MarkInfo", "/Version", "/Perms"}
_ANNOT_NAMES_OK = {"/AP", "/Dests"}


def make_change(
    kind: str, objects: Iterable[int] = (), revision: int | None = None, allowed: bool | None = None
) -> Change:
    vi, en = _MESSAGES[kind]
    return Change(
        kind=kind,
        allowed=kind in ALLOWED if allowed is None else allowed,
        description_vi=vi,
        description_en=en,
        objects=tuple(sorted(set(objects))),
        revision=revision,
    )


def _get(d, key):
    try:
        return d.raw_get(key)
    except (KeyError, AttributeError):
        return None


def _deref(obj):
    try:
        return obj.get_object() if isinstance(obj, generic.IndirectObject) else obj
    except Exception:
        return None


def _changed_keys(old: generic.DictionaryObject, new: generic.DictionaryObject) -> set[str]:
    keys = set(old.keys()) | set(new.keys())
    return {k for k in keys if _get(old, k) != _get(new, k)}


def _page_count(resolver: HistoricalResolver) -> int | None:
    try:
        return int(resolver.root["/Pages"]["/Count"])
    except Exception:
        return None


def _page_refs(resolver: HistoricalResolver) -> list:
    out = []
    try:
        stack = [resolver.root.raw_get("/Pages")]
        seen = set()
        while stack and len(out) < 100_000:
            ref = stack.pop()
            node = _deref(ref)
            key = getattr(ref, "reference", None)
            if key in seen or not isinstance(node, generic.DictionaryObject):
                continue
            seen.add(key)
            if "/Kids" in node:
                stack.extend(reversed(list(node["/Kids"])))
            else:
                out.append(key)
    except Exception:
        pass
    return out


def _appearance_refs(resolver: HistoricalResolver) -> set:
    """Refs of appearance streams of annotations and widgets (allowed to change with them)."""
    refs: set = set()
    for page_ref in _page_refs(resolver):
        try:
            page = resolver(page_ref) if callable(resolver) else page_ref.get_object()
        except Exception:
            page = None
        if not isinstance(page, generic.DictionaryObject):
            continue
        annots = _deref(_get(page, "/Annots")) or []
        for a in annots if isinstance(annots, generic.ArrayObject) else []:
            refs |= _widget_appearance_refs(_deref(a))
    return refs


def _dss_refs(resolver: HistoricalResolver) -> set:
    """The DSS dictionary and its indirect parts (PAdES-LT/LTA validation data)."""
    refs: set = set()
    try:
        root = resolver.root
        dss_ref = root.raw_get("/DSS")
        if isinstance(dss_ref, generic.IndirectObject):
            refs.add(dss_ref.reference)
        dss = _deref(dss_ref)
        for key in ("/Certs", "/OCSPs", "/CRLs", "/VRI"):
            v = dss.raw_get(key) if key in dss else None
            if isinstance(v, generic.IndirectObject):
                refs.add(v.reference)
        vri = _deref(dss.raw_get("/VRI")) if "/VRI" in dss else None
        if isinstance(vri, generic.DictionaryObject):
            for v in vri.values():
                if isinstance(v, generic.IndirectObject):
                    refs.add(v.reference)
    except Exception:
        pass
    return refs


def _annots_kind(old, new) -> str:
    """Entries added to a page's /Annots: signature widgets, form widgets or annotations."""
    try:
        old_refs = {getattr(a, "reference", None) for a in (old or [])}
        added = [a for a in (new or []) if getattr(a, "reference", None) not in old_refs]
        kinds = set()
        for a in added:
            annot = _deref(a)
            if _get(annot, "/Subtype") != "/Widget":
                kinds.add("annotations")
                continue
            field = annot if "/FT" in annot else _deref(_get(annot, "/Parent"))
            kinds.add("signature_added" if _get(field, "/FT") == "/Sig" else "form_filling")
        if len(kinds) == 1:
            return kinds.pop()
    except Exception:
        pass
    return "annotations"


def classify_object(
    ref,
    old,
    new,
    *,
    old_resolver: HistoricalResolver,
    root_ref,
    info_ref,
    sig_refs: set,
    appearance_refs,
    page_counts,
    dss_refs=frozenset(),
) -> str | None:
    """Kind of change that rewriting ``old`` into ``new`` represents (None if nothing changed)."""
    if old == new:
        return None
    if ref in dss_refs:
        return "validation_data"
    if ref == root_ref:
        if not isinstance(new, generic.DictionaryObject):
            return "catalog_modified"
        changed = _changed_keys(old, new)
        if "/Pages" in changed:
            return _pages_kind(*page_counts())
        extra = changed - _ROOT_ALLOWED
        if "/Names" in extra:
            names = _deref(_get(new, "/Names"))
            if isinstance(names, generic.DictionaryObject) and set(names.keys()) <= _ANNOT_NAMES_OK:
                extra.discard("/Names")
        if extra:
            return "catalog_modified"
        if changed & {"/DSS"}:
            return "validation_data"
        if changed & {"/AcroForm"}:
            return "form_filling"
        return "metadata"
    if ref == info_ref:
        return "metadata"
    if ref in sig_refs:
        return "signature_dictionary_edited"
    if not isinstance(old, generic.DictionaryObject):
        if isinstance(old, generic.ArrayObject):
            # an indirect /Annots or /Fields array gaining entries is how annotations are added
            if isinstance(new, generic.ArrayObject) and all(x in list(new) for x in old):
                return _annots_kind(old, new)
            return "objects_replaced"
        return "objects_replaced"
    typ = _get(old, "/Type")
    if typ in ("/Sig", "/DocTimeStamp"):
        return "signature_dictionary_edited"
    if typ == "/Pages" or "/Kids" in old and "/Count" in old:
        return _pages_kind(*page_counts())
    if typ == "/Page":
        if not isinstance(new, generic.DictionaryObject):
            return "content_replaced"
        changed = _changed_keys(old, new)
        if changed <= {"/Annots"}:
            return _annots_kind(_deref(_get(old, "/Annots")), _deref(_get(new, "/Annots")))
        return "content_replaced"
    if typ in ("/Metadata",):
        return "metadata"
    if typ in ("/DSS", "/VRI"):
        return "validation_data"
    if typ in ("/XRef", "/ObjStm"):
        return None
    if not isinstance(new, generic.DictionaryObject):
        return "objects_replaced"
    if "/FT" in old or _get(old, "/Subtype") == "/Widget":
        changed = _changed_keys(old, new)
        if (
            "/V" in changed
            and _get(old, "/V") is not None
            and (
                _get(old, "/FT") == "/Sig"
                or isinstance(_deref(_get(old, "/V")), generic.DictionaryObject)
            )
        ):
            return "signature_dictionary_edited"
        if changed <= _FIELD_VALUE_KEYS | {"/Kids"}:
            return "signature_added" if _get(old, "/FT") == "/Sig" else "form_filling"
        return "form_structure_changed"
    if "/Fields" in old and changed_le(old, new, _ACROFORM_KEYS):
        return "form_filling"
    if "/Subtype" in old and "/Rect" in old:  # a (non-widget) annotation
        return "annotations"
    if isinstance(old, generic.StreamObject) and ref in appearance_refs():
        return "annotations"
    return "objects_replaced"


def changed_le(old, new, allowed: set[str]) -> bool:
    return _changed_keys(old, new) <= allowed


def _pages_kind(signed: int | None, final: int | None) -> str:
    if signed is not None and final is not None:
        if final > signed:
            return "pages_added"
        if final < signed:
            return "pages_removed"
    return "pages_replaced"


def analyse(
    reader: PdfFileReader,
    signed_revision: int,
    sig_refs: set,
    docmdp: int | None = None,
    is_locked: Callable[[str], bool] | None = None,
) -> list[Change]:
    """Every change in revisions after ``signed_revision``, classified. ``is_locked`` is the
    signature's field lock (FieldMDP): any later change to a locked field — its value, flags,
    widget or appearance, or another field taking its name — is forbidden."""
    total = reader.xrefs.total_revisions
    if signed_revision >= total - 1:
        return []
    found: dict[str, set[int]] = {}
    revs: dict[str, int] = {}
    signed_res = reader.get_historical_resolver(signed_revision)
    locked = _locked_field_refs(signed_res, is_locked) if is_locked else None
    if is_locked and locked is not None:
        now_named = _locked_field_refs(reader.get_historical_resolver(total - 1), is_locked)
        usurpers = (now_named or set()) - locked
        if usurpers:
            found["locked_field_changed"] = {r.idnum for r in usurpers}
            revs["locked_field_changed"] = total - 1
    signed_pages = _page_count(signed_res)
    final_pages = _page_count(reader.get_historical_resolver(total - 1))
    if signed_pages is not None and final_pages is not None and signed_pages != final_pages:
        kind = _pages_kind(signed_pages, final_pages)
        found.setdefault(kind, set())
        revs.setdefault(kind, total - 1)
    for rev in range(signed_revision + 1, total):
        old_res = reader.get_historical_resolver(rev - 1)
        new_res = reader.get_historical_resolver(rev)
        root_ref = reader.trailer.raw_get("/Root").reference
        info = old_res.trailer_view.raw_get("/Info") if "/Info" in old_res.trailer_view else None
        info_ref = info.reference if isinstance(info, generic.IndirectObject) else None
        cache: dict[str, set] = {}

        dss_refs = _dss_refs(old_res)
        page_counts: dict[int, int | None] = {}

        def counts(res, _memo=page_counts):
            if id(res) not in _memo:
                _memo[id(res)] = _page_count(res)
            return _memo[id(res)]

        def appearance_refs(_res=old_res, _cache=cache):
            if "ap" not in _cache:
                _cache["ap"] = _appearance_refs(_res)
            return _cache["ap"]

        for ref in sorted(reader.xrefs.explicit_refs_in_revision(rev), key=lambda r: r.idnum):
            if reader.xrefs.get_introducing_revision(ref) == rev:
                # New objects matter only through the existing objects that now point to them
                # (a page's /Annots, the AcroForm, the catalog), classified below; an object
                # nothing points to cannot change what is displayed.
                continue
            old = _safe(old_res, ref)
            # the newest revision is what the reader itself shows: reuse its parsed objects
            new = _safe(reader.get_object if rev == total - 1 else new_res, ref)
            kind = classify_object(
                ref,
                old,
                new,
                old_resolver=old_res,
                root_ref=root_ref,
                info_ref=info_ref,
                sig_refs=sig_refs,
                appearance_refs=appearance_refs,
                page_counts=lambda _o=old_res, _n=new_res: (_page_count(_o), _page_count(_n)),
                dss_refs=dss_refs,
            )
            if kind and locked and ref in locked:
                kind = "locked_field_changed"
            if kind:
                found.setdefault(kind, set()).add(ref.idnum)
                revs.setdefault(kind, rev)
        for ref in reader.xrefs.refs_freed_in_revision(rev):
            old = _safe(old_res, ref)
            if locked and ref in locked:
                kind = "locked_field_changed"
            elif isinstance(old, generic.DictionaryObject) and "/Subtype" in old and "/Rect" in old:
                kind = "annotations"
            else:
                kind = "objects_removed"
            found.setdefault(kind, set()).add(ref.idnum)
            revs.setdefault(kind, rev)
    changes = [make_change(k, objs, revs.get(k)) for k, objs in found.items()]
    if docmdp is not None:
        changes = _apply_docmdp(changes, docmdp)
    return sorted(changes, key=lambda c: (c.allowed, c.kind))


def _locked_field_refs(resolver, is_locked: Callable[[str], bool]) -> set:
    """Refs of everything that makes up the locked terminal fields of a revision: the field
    dictionaries, their widgets and the widgets' appearance streams. Fully qualified names are
    built from /T along the /Kids tree, as FieldMDP names fields."""
    refs: set = set()
    try:
        form = _deref(_get(resolver.root, "/AcroForm"))
        top = _deref(_get(form, "/Fields")) if isinstance(form, generic.DictionaryObject) else None
    except Exception:
        return refs
    stack = [(f, "") for f in (top if isinstance(top, generic.ArrayObject) else [])]
    seen: set = set()
    while stack and len(seen) < 100_000:
        ref, prefix = stack.pop()
        key = getattr(ref, "reference", None)
        node = _deref(ref)
        if key in seen or not isinstance(node, generic.DictionaryObject):
            continue
        seen.add(key)
        part = _get(node, "/T")
        name = f"{prefix}.{part}" if prefix and part is not None else str(part or prefix)
        kids = _deref(_get(node, "/Kids"))
        named_kids = isinstance(kids, generic.ArrayObject) and any(
            isinstance(_deref(k), generic.DictionaryObject) and "/T" in _deref(k) for k in kids
        )
        if named_kids:
            stack.extend((k, name) for k in kids)
            continue
        if not name or not is_locked(name):
            continue
        parts = [ref] + (list(kids) if isinstance(kids, generic.ArrayObject) else [])
        for part_ref in parts:
            if isinstance(part_ref, generic.IndirectObject):
                refs.add(part_ref.reference)
            refs |= _widget_appearance_refs(_deref(part_ref))
    return refs


def _widget_appearance_refs(widget) -> set:
    """Refs of an annotation's appearance streams (each state, and each sub-state)."""
    refs: set = set()
    ap = _deref(_get(widget, "/AP")) if isinstance(widget, generic.DictionaryObject) else None
    if not isinstance(ap, generic.DictionaryObject):
        return refs
    for state in ap.values():
        if isinstance(state, generic.IndirectObject):
            refs.add(state.reference)
        state_obj = _deref(state)
        if isinstance(state_obj, generic.DictionaryObject) and not isinstance(
            state_obj, generic.StreamObject
        ):
            refs |= {
                v.reference for v in state_obj.values() if isinstance(v, generic.IndirectObject)
            }
    return refs


def _apply_docmdp(changes: list[Change], level: int) -> list[Change]:
    """A certification signature narrows what is allowed (P=1 nothing, 2 forms, 3 annotations)."""
    permitted = {"validation_data", "metadata"}
    if level >= 2:
        permitted |= {"form_filling", "signature_added"}
    if level >= 3:
        permitted |= {"annotations"}
    out = []
    for c in changes:
        if c.allowed and c.kind not in permitted:
            out.append(make_change(c.kind, c.objects, c.revision, allowed=False))
        else:
            out.append(c)
    return out


def _safe(resolver: HistoricalResolver, ref):
    try:
        return resolver(ref)
    except Exception:
        return None
