"""Comments as drivers: code open answers into themes, find themes, score sentiment, link themes
to the score, to churn and to money, and show quotes that are safe to publish.

    import cxlab.text as cxt
    frame = cxt.code(comments["comment"], "kestrel", language=comments["language"])
    cxt.theme_impact(frame.join(survey["ltr"]), "ltr", list(frame.columns))

=====================  ======================================================================
``load_codeframe``     a YAML codeframe (themes -> patterns per language); ``"kestrel"`` ships
``code``               0/1 column per theme: pattern matching with negation and stemming
``discover``           themes without a codeframe: TF-IDF + NMF (scikit-learn)
``sentiment``          lexicon score per comment (small EN/PL lexicons written here)
``theme_impact``       prevalence (Wilson CI) and adjusted effect (OLS, HC3) per theme
``theme_revenue_at_risk``  churn of comments with a theme vs none -> cx.value.revenue_at_risk
``redact``             remove e-mails, phones, card (Luhn), IBAN (mod 97), account numbers, names
``quotes``             a few redacted quotes per theme, only from cells at or above ``min_base``
=====================  ======================================================================

Coding and sentiment are rule-based and written here because no maintained library codes
survey comments against an editable, bilingual codeframe with negation; the statistics
(TF-IDF, NMF, OLS) come from scikit-learn and statsmodels.
"""

from __future__ import annotations

import functools
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from . import intervals
from .checks import CXDataError, CXWarning, _preview, require_columns, require_frame
from .contract import CONFIDENCE, MIN_BASE

__all__ = ["Codeframe", "Discovery", "code", "discover", "load_codeframe", "normalise", "quotes",
           "redact", "sentiment", "theme_impact", "theme_revenue_at_risk"]

CODEFRAMES = Path(__file__).resolve().parent / "codeframes"
LANGUAGES = ("en", "pl")
# negators: the next NEGATION_SCOPE words of the same clause are marked "neg_" (Das & Chen 2001)
NEGATORS = {"en": ("not", "no", "never", "without", "nothing", "nobody", "none", "cannot", "cant",
                   "dont", "didnt", "doesnt", "isnt", "wasnt", "havent", "hasnt", "wont",
                   "couldnt", "arent"),
            "pl": ("nie", "bez", "brak", "nigdy", "zadnych", "zadnego", "zadnej", "nikt", "nic")}
NEGATION_SCOPE = 3
CLAUSE_BREAK = {"en": ("but", "however", "although", "though", "and", "also"),
                "pl": ("ale", "jednak", "chociaz", "lecz", "i", "poza")}
# simple stemming: an English word also matches with these endings (patterns may use `*`)
EN_SUFFIXES = "(?:s|es|ed|d|ing)?"


# ------------------------------------------------------------------------------ normalising
_FOLD = str.maketrans({**dict(zip("ąćęłńóśźżáéíúüöäàèç", "acelnoszzaeiuuoaaec")), "'": None,
                       "’": None})


def _fold(text: str) -> str:
    """Lower case, accents removed (ą -> a, ł -> l), apostrophes dropped (don't -> dont)."""
    t = text.lower().translate(_FOLD)
    if t.isascii():
        return t
    t = unicodedata.normalize("NFKD", t)
    return "".join(ch for ch in t if not unicodedata.combining(ch))


def normalise(text: str, language: str = "en") -> str:
    """The text the codeframe sees: :func:`_fold`, every run of other characters a space, clause
    breaks (punctuation, "but", "and", "ale", "i", ...) as " | ", and the words after a negator
    inside its clause prefixed ``neg_`` (at most ``NEGATION_SCOPE`` words; Das & Chen 2001)."""
    t = re.sub(r"[.,;:!?()\[\]\"/\n-]+", " | ", _fold(text))
    t = re.sub(r"[^a-z0-9_| ]+", " ", t)
    t = re.sub(r"(?<=\d)(?=[a-z])", " ", t)                 # 500mb -> 500 mb
    breaks = "|".join(CLAUSE_BREAK[language])
    t = re.sub(rf"\b(?:{breaks})\b", " | ", t)
    return _mark_negation(" ".join(t.split()), language)


_NEG_RE = {lang: re.compile(rf"\b(?:{'|'.join(words)})\b((?: [a-z0-9_]+){{1,{NEGATION_SCOPE}}})")
           for lang, words in NEGATORS.items()}


def _mark_negation(t: str, language: str) -> str:
    def mark(m):
        words = m.group(1).split()
        return m.group(0)[: m.start(1) - m.start(0)] + "".join(
            f" {w}" if w.startswith("neg_") else f" neg_{w}" for w in words)
    return _NEG_RE[language].sub(mark, t)


# ------------------------------------------------------------------------------- codeframes
@dataclass(frozen=True)
class Codeframe:
    """Themes with patterns per language, compiled to one regular expression per theme."""

    name: str
    themes: dict                      # theme -> {"label": str, "en": [...], "pl": [...]}
    compiled: dict = field(repr=False)  # (theme, language) -> compiled regex or None

    @property
    def theme_names(self) -> list:
        return list(self.themes)

    def __repr__(self) -> str:
        return f"Codeframe({self.name}: {len(self.themes)} themes, languages {LANGUAGES})"


def _pattern_regex(pattern: str, language: str) -> str:
    """One codeframe pattern -> regex on normalised text.

    Words match in order, adjacent, inside one clause; ``word*`` matches any ending (the
    stemming for Polish, written by the codeframe's author); English words also match with
    -s/-es/-ed/-d/-ing; ``...`` allows up to three words in between. Negation: the pattern does
    not fire when its first word is inside a negator's scope ("never had any problems" does
    not match ``problem*``); later words may be, so patterns that contain their own negator
    ("not resolved", "brak internetu") match.
    """
    tokens = _fold(pattern).replace("...", " ... ").split()
    out = ""
    for tok in tokens:
        if tok == "...":
            out += r"(?: [a-z0-9_]+){0,3}"
            continue
        stem = re.sub(r"[^a-z0-9]", "", tok)
        if not stem:
            continue
        tail = r"[a-z0-9]*" if tok.endswith("*") else (EN_SUFFIXES if language == "en" else "")
        out += (" (?:neg_)?" if out else "") + stem + tail
    if not out:
        raise CXDataError(f"codeframe pattern {pattern!r} has no words.")
    return rf"\b{out}\b"          # \b: "_" is a word character, so neg_word never matches


def load_codeframe(source="kestrel") -> Codeframe:
    """Read a codeframe: a shipped name (``"kestrel"``), a path to YAML, or a mapping.

    YAML layout::

        themes:
          billing_error:
            label: Billing error
            en: ["overcharg*", "charged twice", "wrong ... bill"]
            pl: ["blędn* faktur*", "pobrali ... za duzo"]

    Pattern rules are in :func:`_pattern_regex`; edit the file and reload to change the coding.
    """
    if isinstance(source, Codeframe):
        return source
    if isinstance(source, Mapping):
        spec, name = dict(source), "custom"
    else:
        path = Path(source)
        if not path.suffix:
            path = CODEFRAMES / f"{source}.yaml"
        if not path.exists():
            shipped = sorted(p.stem for p in CODEFRAMES.glob("*.yaml"))
            raise CXDataError(f"No codeframe {source!r}: give a YAML path or one of {shipped}.")
        return _codeframe_file(str(path.resolve()), path.stat().st_mtime_ns)
    return _compile_codeframe(spec, name)


@functools.lru_cache(maxsize=16)
def _codeframe_file(path: str, mtime_ns: int) -> Codeframe:
    """A codeframe file read and compiled once per version of the file (reports code every
    slice and wave with it; an edited file has a new mtime and is read again)."""
    from .config import read_yaml
    return _compile_codeframe(read_yaml(path), Path(path).stem)


def _compile_codeframe(spec, name: str) -> Codeframe:
    """Check a codeframe specification and compile its patterns per theme and language."""
    themes = spec.get("themes") if isinstance(spec, Mapping) else None
    if not isinstance(themes, Mapping) or not themes:
        raise CXDataError("A codeframe needs a 'themes:' mapping of theme -> {label, en, pl}.")
    compiled = {}
    for theme, entry in themes.items():
        if not isinstance(entry, Mapping):
            raise CXDataError(f"codeframe theme {theme!r} must map languages to pattern lists.")
        for lang in LANGUAGES:
            pats = entry.get(lang) or []
            if isinstance(pats, str):
                pats = [pats]
            compiled[theme, lang] = (re.compile("|".join(f"(?:{_pattern_regex(p, lang)})"
                                                         for p in pats)) if pats else None)
            # prefilter: the regex can only match if one of the first stems occurs in the text
            compiled[theme, lang, "stems"] = tuple(sorted({
                re.sub(r"[^a-z0-9]", "", _fold(p).split()[0]) for p in pats}))
    return Codeframe(name=name, themes={k: dict(v) for k, v in themes.items()}, compiled=compiled)


def _languages(language, n: int, index) -> np.ndarray:
    if isinstance(language, str):
        if language not in LANGUAGES:
            raise CXDataError(f"language must be one of {LANGUAGES} or a column of them, got "
                              f"{language!r}.")
        return np.full(n, language, dtype=object)
    lang = pd.Series(language).reset_index(drop=True).astype(str).str.lower().to_numpy()
    if lang.size != n:
        raise CXDataError(f"language has {lang.size} values for {n} texts: give one per text.")
    bad = ~np.isin(lang, LANGUAGES)
    if bad.any():
        raise CXDataError(f"language has values other than {LANGUAGES} at rows "
                          f"{_preview(np.asarray(index)[bad])} ({_preview(pd.unique(lang[bad]))}). "
                          "Recode them, or code each language separately.")
    return lang


def _texts(texts) -> pd.Series:
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts))
    bad = s.notna() & ~s.map(lambda v: isinstance(v, str))
    if bad.any():
        raise CXDataError(f"texts must be strings (or missing); rows {_preview(s.index[bad])} hold "
                          f"{_preview(s[bad].map(type).map(lambda t: t.__name__).unique())}.")
    return s.fillna("")


def _code_unique(cf: Codeframe, uniq) -> np.ndarray:
    out = np.zeros((len(uniq), len(cf.themes)), dtype=np.int8)
    for u, (text, lg) in enumerate(uniq):
        if not text.strip():
            continue
        norm = normalise(text, lg)
        for k, theme in enumerate(cf.themes):
            rx = cf.compiled[theme, lg]
            if rx is not None and any(st in norm for st in cf.compiled[theme, lg, "stems"]) \
                    and rx.search(norm):
                out[u, k] = 1
    return out


def code(texts, codeframe="kestrel", language="en", *, n_jobs: int = 1) -> pd.DataFrame:
    """Code comments into themes: one 0/1 column per codeframe theme, aligned with ``texts``.

    A comment gets theme k when any of k's patterns for its language matches the normalised
    text (:func:`normalise`: lower case, accents removed, negated words marked, so "never had
    any problems" does not match "problem*"). Empty or missing comments get 0 everywhere and are
    counted in ``result.attrs["n_empty"]``. Identical texts are coded once (speed).

    Parameters
    ----------
    texts : Series or sequence of str (missing = no comment).
    codeframe : a shipped name ("kestrel"), a YAML path, a mapping or a :class:`Codeframe`.
    language : "en", "pl", or one language per text (e.g. the ``language`` column).
    n_jobs : worker processes for the distinct texts (worth it above ~100,000 of them).

    Returns
    -------
    DataFrame of int 0/1, index of ``texts``, columns the codeframe's themes.

    Examples
    --------
    >>> coded = code(["I was charged twice", "nie było żadnych problemów"], language=["en", "pl"])
    >>> coded[["billing_error", "praise"]].to_numpy().tolist()
    [[1, 0], [0, 1]]
    """
    cf = load_codeframe(codeframe)
    s = _texts(texts)
    lang = _languages(language, len(s), s.index)
    key = pd.MultiIndex.from_arrays([s.to_numpy(dtype=object), lang])
    codes, uniq = pd.factorize(key)
    uniq = list(uniq)
    if n_jobs > 1 and len(uniq) > 10_000:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial
        chunks = [uniq[i::n_jobs] for i in range(n_jobs)]
        with ProcessPoolExecutor(n_jobs) as pool:
            parts = list(pool.map(partial(_code_unique, cf), chunks))
        out = np.zeros((len(uniq), len(cf.themes)), dtype=np.int8)
        for i, part in enumerate(parts):
            out[i::n_jobs] = part
    else:
        out = _code_unique(cf, uniq)
    frame = pd.DataFrame(out[codes].astype(int), index=s.index, columns=cf.theme_names)
    frame.attrs.update(codeframe=cf.name, n_empty=int((s.str.strip() == "").sum()))
    return frame


# -------------------------------------------------------------------------------- discovery
STOP_WORDS = {
    "en": ["a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "at", "for", "with", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "my", "me", "i", "we", "our", "you", "your", "they", "them", "their", "have", "has", "had", "do", "does", "did", "so", "very", "really", "just", "also", "as", "by", "from", "there", "what", "when", "all", "any", "get", "got", "im", "ive", "my", "well", "honestly", "to", "be", "honest"],
    "pl": ["i", "w", "na", "z", "do", "sie", "to", "jest", "sa", "ze", "o", "a", "ale", "po", "za", "od", "mi", "mnie", "mam", "nie", "tak", "juz", "jak", "czy", "ten", "ta", "te", "tym", "jestem", "byl", "byla", "bylo", "no", "coz", "generalnie", "szczerze", "mowiac"],
}


@dataclass
class Discovery:
    """Themes found without a codeframe: ``terms`` (top terms per theme), ``assignments`` (one
    theme number per text, -1 when the text has no known term; aligned with the input) and
    ``weights`` (the NMF document-theme matrix)."""

    terms: pd.DataFrame
    assignments: pd.Series
    weights: np.ndarray = field(repr=False)
    model: object = field(repr=False)
    vectorizer: object = field(repr=False)

    def summary(self) -> pd.DataFrame:
        sizes = self.assignments.value_counts()
        return self.terms.assign(n=sizes.reindex(self.terms.index).fillna(0).astype(int))

    def __repr__(self) -> str:
        lines = [f"{i}: {', '.join(row[:6])}" for i, row in self.terms.iterrows()]
        return f"Discovery({len(self.terms)} themes)\n" + "\n".join(lines)


_PLACEHOLDER = re.compile(r"\[(?:EMAIL|IBAN|CARD|PHONE|NUMBER|NAME)\]")   # left by redact()


def discover(texts, n_themes: int, seed: int = 0, *, language="en", n_terms: int = 10,
             max_fit: int = 50_000, min_df: int = 3) -> Discovery:
    """Find themes without a codeframe: TF-IDF on normalised words and word pairs, then
    non-negative matrix factorisation (Lee & Seung 1999) into ``n_themes`` parts.

    Each text is assigned its largest NMF weight (-1 for empty texts and texts with no term of
    the vocabulary). The model is fitted on at most ``max_fit`` distinct non-empty texts (a
    random sample with ``seed``) and applied to all; identical texts are transformed once.

    Returns
    -------
    :class:`Discovery` with ``.terms`` (DataFrame theme -> term_1..term_n) and
    ``.assignments`` (Series aligned with ``texts``).

    References
    ----------
    Lee DD, Seung HS (1999) Nature 401:788-791. scikit-learn ``TfidfVectorizer`` and ``NMF``.
    """
    from sklearn.decomposition import NMF
    from sklearn.feature_extraction.text import TfidfVectorizer
    s = _texts(texts)
    lang = _languages(language, len(s), s.index)
    key = pd.MultiIndex.from_arrays([s.to_numpy(dtype=object), lang])
    codes, uniq = pd.factorize(key)
    norm = np.array([normalise(_PLACEHOLDER.sub(" ", t), lg).replace("|", " ") if t.strip()
                     else "" for t, lg in uniq], dtype=object)
    live = np.flatnonzero([bool(t) for t in norm])
    if live.size < n_themes:
        raise CXDataError(f"discover needs at least n_themes = {n_themes} non-empty texts; "
                          f"got {live.size}.")
    rng = np.random.default_rng(seed)
    fit_rows = live if live.size <= max_fit else np.sort(rng.choice(live, max_fit, replace=False))
    stop = sorted(set(STOP_WORDS["en"]) | set(STOP_WORDS["pl"]))
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=min(min_df, max(1, fit_rows.size // 50)),
                          max_df=0.5, sublinear_tf=True, stop_words=stop,
                          token_pattern=r"(?u)\b[a-z_][a-z0-9_]+\b")
    X_fit = vec.fit_transform(norm[fit_rows])
    nmf = NMF(n_components=n_themes, init="nndsvda", random_state=seed, max_iter=400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ConvergenceWarning on tiny inputs
        nmf.fit(X_fit)
    W = np.zeros((len(uniq), n_themes))
    W[live] = nmf.transform(vec.transform(norm[live]))
    lab = np.where(W.max(axis=1) > 0, W.argmax(axis=1), -1)
    vocab = np.asarray(vec.get_feature_names_out())
    top = np.argsort(-nmf.components_, axis=1)[:, :n_terms]
    terms = pd.DataFrame(vocab[top], columns=[f"term_{j + 1}" for j in range(top.shape[1])])
    terms.index.name = "theme"
    return Discovery(terms=terms, assignments=pd.Series(lab[codes], index=s.index, name="theme"),
                     weights=W[codes], model=nmf, vectorizer=vec)


# -------------------------------------------------------------------------------- sentiment
# Small hand-written lexicons (stems, matched as word prefixes on normalised text). A word
# marked neg_ by a negator counts with the opposite sign ("not good" is negative).
LEXICON = {
    "en": {"positive": ["great", "excellent", "fantastic", "good", "happy", "satisf", "friendly", "helpful", "brilliant", "reliable", "fast", "quick", "quickly", "love", "recommend", "fine", "easy", "thank", "perfect", "sorted", "lovely"],
           "negative": ["bad", "poor", "terrible", "awful", "slow", "unreliable", "unstable", "down", "outage", "drop", "cut", "lost", "losing", "wrong", "incorrect", "overcharg", "expensive", "overpriced", "crash", "broken", "useless", "nightmare", "confusing", "clunky", "hard", "waited", "wait", "hold", "forever", "ages", "queue", "problem", "issue", "fault", "refund", "mess", "impossible", "buffer", "lag", "cheaper", "less", "competitors", "below", "nowhere", "fall", "up", "rise", "increase", "hike", "twice", "pain"]},
    "pl": {"positive": ["swietn", "dobr", "super", "zadowol", "polecam", "mil", "pomocn", "kompetentn", "stabiln", "szybk", "bez_zarzutu", "dziala", "porzadku", "dziekuj"],
           "negative": ["zl", "wolny", "wolno", "awari", "zrywa", "pada", "padl", "znika", "niestabiln", "zawodn", "drogo", "drog", "wysok", "blad", "bledn", "nieprawidlow", "podwojn", "zawiesza", "wiesza", "toporn", "niewygodn", "bezuzyteczn", "koszmar", "czekal", "czekam", "czekanie", "oczekiwanie", "kolejk", "problem", "usterk", "cisza", "nieoplacaln", "podwyzk", "zacinaj", "buforuj", "taniej", "nizsz", "mniejsz", "gore", "wzrosl", "konkurencj", "slab", "dlugie", "pobrali", "naliczyli", "obciazon"]},
}
def _lexicon_regex(stems) -> re.Pattern:
    return re.compile(r"(?<![a-z0-9_])(neg_)?(?:" + "|".join(map(re.escape, stems))
                      + r")[a-z0-9]*")


FAILURE_NEGATORS = {"en": ("never", "nothing", "nobody", "cannot", "cant", "dont", "didnt",
                            "doesnt", "isnt", "wasnt", "wont", "couldnt", "arent"),
                    "pl": ("nie", "nigdy", "nikt", "nic")}
_FAIL_RE = {lang: re.compile(rf"\b(?:{'|'.join(words)})\b(?= [a-z0-9])")
            for lang, words in FAILURE_NEGATORS.items()}
_LEX_RX = {(lg, pol): _lexicon_regex(stems) for lg, d in LEXICON.items() for pol, stems in d.items()}


def sentiment(texts, language="en") -> pd.DataFrame:
    """Lexicon sentiment per comment: ``score = (pos - neg) / (pos + neg)`` in [-1, 1] (0 when no
    lexicon word), ``label`` positive (> 0.2) / negative (< -0.2) / neutral, and the counts.

    Method: count words of a small stem lexicon written here for English and Polish (``LEXICON``)
    in the normalised text; a word inside a negator's scope counts with the opposite sign, and a
    failure negator (``FAILURE_NEGATORS``: can't, nobody, nie, ...) that flips no lexicon word
    counts as one negative word ("can't log in", "nie było internetu"; so "nie mam uwag", no
    remarks, reads negative: a known error).
    Limits: no sarcasm, no intensity ("a bit slow" = "unbearably slow"), no weighting by
    clause ("great staff but ..." counts one each way), domain words only (a lexicon for telecom
    service comments, not general language), Polish by stems so some inflections are missed.
    Use it to sort and to describe, not as a measured outcome.
    """
    s = _texts(texts)
    lang = _languages(language, len(s), s.index)
    pos, neg = np.zeros(len(s)), np.zeros(len(s))
    for i, (t, lg) in enumerate(zip(s.to_numpy(dtype=object), lang)):
        if not t.strip():
            continue
        norm = normalise(t, lg).replace("bez neg_zarzutu", "bez_zarzutu")
        flipped = 0
        for m in _LEX_RX[lg, "positive"].finditer(norm):
            (neg if m.group(1) else pos)[i] += 1
            flipped += bool(m.group(1))
        for m in _LEX_RX[lg, "negative"].finditer(norm):
            (pos if m.group(1) else neg)[i] += 1
            flipped += bool(m.group(1))
        # a failure negation ("can't", "nobody", "nie") that flips no lexicon word is itself a
        # complaint ("can't log in"); "no comment", "brak uwag" are not
        neg[i] += max(len(_FAIL_RE[lg].findall(norm)) - flipped, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(pos + neg > 0, (pos - neg) / (pos + neg), 0.0)
    label = np.select([score > 0.2, score < -0.2], ["positive", "negative"], "neutral")
    return pd.DataFrame({"score": score, "label": label, "positive_words": pos.astype(int),
                         "negative_words": neg.astype(int)}, index=s.index)


# ----------------------------------------------------------------------------- theme impact
def _outcome_scale(y: pd.Series, outcome: str) -> tuple[np.ndarray, str]:
    vals = pd.to_numeric(y, errors="coerce")
    u = set(np.unique(vals.dropna()))
    if u <= {0, 1}:
        return 100 * vals.to_numpy(dtype=float), "percentage points"
    if u <= set(range(11)):
        v = vals.to_numpy(dtype=float)
        return 100 * ((v >= 9).astype(float) - (v <= 6)), "NPS points"
    raise CXDataError(f"outcome {outcome!r} must be a 0-10 score (effect in NPS points) or a 0/1 "
                      f"flag (percentage points); it has values {_preview(sorted(u))}.")


def _check_themes(data: pd.DataFrame, themes: Sequence[str]) -> None:
    require_columns(data, list(themes), "data")
    for t in themes:
        v = data[t]
        bad = v.notna() & ~v.isin([0, 1])
        if bad.any() or v.isna().any():
            raise CXDataError(f"theme column {t!r} must be 0/1 in every row; rows "
                              f"{_preview(v.index[bad | v.isna()])} are not. Code comments with "
                              "cx.text.code() (0/1 per theme).")


def theme_impact(data: pd.DataFrame, outcome: str, themes: Sequence[str], *, controls=None,
                 weights: str | None = None, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Prevalence of each theme and its effect on the outcome, adjusted for the other themes.

    Effect: the OLS coefficient of the theme's 0/1 indicator in a regression of the outcome
    on all themes and ``controls`` (categorical controls as dummies), with HC3 heteroscedasticity-
    robust standard errors (MacKinnon & White 1985) and t intervals. For a 0-10 score the outcome
    is ``100 * ([score >= 9] - [score <= 6])``, so the effect is in NPS points (the adjusted
    difference in NPS between comments with and without the theme); for a 0/1 outcome it is
    ``100 * outcome``, a linear probability model in percentage points. With ``weights`` (a
    column) WLS with the same robust errors. Prevalence: (weighted) share with the theme, Wilson
    interval (with weights on the Kish effective base). Rows missing the outcome or a control are
    excluded and reported (CXWarning, ``result.attrs["excluded"]``).

    The effect is an adjusted association: a theme marks a problem, it is not an intervention.

    Returns
    -------
    DataFrame indexed by theme: n_with, prevalence, prevalence_ci_low, prevalence_ci_high,
    effect, effect_ci_low, effect_ci_high, p_value (all in percent / points); ``attrs`` holds
    the unit, n and exclusions.

    References
    ----------
    MacKinnon JG, White H (1985) J Econometrics 29:305-325. Wilson EB (1927) JASA 22:209-212.
    """
    import statsmodels.api as sm
    require_frame(data, "data")
    themes = list(themes)
    controls = [controls] if isinstance(controls, str) else list(controls or [])
    require_columns(data, [outcome, *controls] + ([weights] if weights else []), "data")
    _check_themes(data, themes)
    intervals.z_value(confidence)
    use = [outcome, *controls] + ([weights] if weights else [])
    miss = data[use].isna().any(axis=1)
    excluded = {c: int(data[c].isna().sum()) for c in use if data[c].isna().any()}
    if miss.any():
        warnings.warn(f"theme_impact: {int(miss.sum())} of {len(data)} rows excluded (missing "
                      f"{', '.join(f'{k}: {v}' for k, v in excluded.items())}).", CXWarning,
                      stacklevel=2)
    df = data.loc[~miss]
    y, unit = _outcome_scale(df[outcome], outcome)
    X = df[themes].astype(float)
    if controls:
        X = pd.concat([X, pd.get_dummies(df[controls], drop_first=True, dtype=float)], axis=1)
    X = sm.add_constant(X, has_constant="add")
    empty = [t for t in themes if X[t].sum() == 0]
    if empty:
        raise CXDataError(f"themes {_preview(empty)} occur in no row: drop them from themes.")
    w = None
    if weights:
        w = pd.to_numeric(df[weights], errors="coerce").to_numpy(dtype=float)
        if (w <= 0).any() or not np.isfinite(w).all():
            raise CXDataError(f"weights {weights!r} must be positive numbers.")
    model = sm.WLS(y, X, weights=w) if w is not None else sm.OLS(y, X)
    fit = model.fit(cov_type="HC3")
    ci = fit.conf_int(alpha=1 - confidence)
    wt = np.ones(len(df)) if w is None else w
    n_eff = wt.sum() ** 2 / (wt ** 2).sum()
    share = (df[themes].to_numpy(dtype=float) * wt[:, None]).sum(axis=0) / wt.sum()
    lo, hi = intervals.wilson(share * n_eff, np.full(len(themes), n_eff), confidence)
    table = pd.DataFrame({
        "n_with": df[themes].sum().to_numpy().astype(int), "prevalence": 100 * share,
        "prevalence_ci_low": 100 * lo, "prevalence_ci_high": 100 * hi,
        "effect": fit.params[themes].to_numpy(), "effect_ci_low": ci.loc[themes, 0].to_numpy(),
        "effect_ci_high": ci.loc[themes, 1].to_numpy(), "p_value": fit.pvalues[themes].to_numpy()},
        index=pd.Index(themes, name="theme"))
    table.attrs.update(unit=unit, n=len(df), excluded=excluded, outcome=outcome,
                       controls=controls, method="OLS with HC3 robust SE" + (" (WLS)" if w is not None
                                                                             else ""))
    return table


def theme_revenue_at_risk(data: pd.DataFrame, themes: Sequence[str], churned: str, value, *,
                          customers: float | None = None, baseline: str = "no theme",
                          confidence: float = CONFIDENCE):
    """Revenue at risk per theme with :func:`cxlab.value.revenue_at_risk`.

    For each theme the customers whose comment carries it form one group; the ``baseline``
    group is the commenters with none of ``themes``. Churn in a theme group above the baseline
    rate is the churn linked to the theme; times ``value`` (a column, e.g. annual revenue, or a
    number) and the group's customers it is the revenue at risk, with MOVER intervals. A
    customer with two themes counts in both groups (themes overlap; do not add the rows up).
    ``churned`` should be a fixed-horizon flag matching ``value``'s period (e.g. ``churn_12m``
    with annual revenue). ``customers`` (e.g. the active base) scales each group to that many
    customers times its share of the analysed rows (``customers * n_group / n_rows``); the default
    counts the analysed rows themselves. The result's total adds overlapping groups: read the
    rows. Returns the :class:`cxlab.value.RevenueAtRiskResult`.
    """
    from . import value as cxvalue
    require_frame(data, "data")
    require_columns(data, [churned], "data")
    _check_themes(data, list(themes))
    df = data[data[churned].notna()]
    if len(df) < len(data):
        warnings.warn(f"theme_revenue_at_risk: {len(data) - len(df)} rows without {churned!r} "
                      "excluded (censored before the horizon).", CXWarning, stacklevel=2)
    none = df[list(themes)].sum(axis=1) == 0
    groups = [(baseline, none)] + [(t, df[t] == 1) for t in themes]
    rows = []
    for label, sel in groups:
        sub = df.loc[sel]
        if len(sub) == 0:
            continue
        v = (float(sub[value].mean()) if isinstance(value, str) else float(value))
        rows.append({"group": label, "n": len(sub), "churned": int(sub[churned].sum()),
                     "value": v})
    table = pd.DataFrame(rows)
    scaled = None if customers is None else dict(zip(table["group"],
                                                     float(customers) * table["n"] / len(df)))
    return cxvalue.revenue_at_risk(table, "group", value="value", baseline=baseline,
                                   customers=scaled, confidence=confidence)


# -------------------------------------------------------------------------------- redaction
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.I)
_DIGITS = re.compile(r"(?<![\w])\+?\d[\d ().-]{4,}\d(?![\w])")
_NAME = r"[A-ZĄĆĘŁŃÓŚŹŻ][a-ząćęłńóśźż]+(?:[ -][A-ZĄĆĘŁŃÓŚŹŻ][a-ząćęłńóśźż]+)?"
_NAME_CUES = [
    re.compile(rf"(?i:\b(?:my name is|this is|i am|i'm|nazywam się|nazywam sie|mam na imię|"
               rf"mam na imie)\s+){_NAME}"),
    re.compile(rf"(?i:\b(?:mr|mrs|ms|miss|dr|sir|madam|pan|pani|pana|panią|pania|panem)\.?\s+){_NAME}"),
    re.compile(rf"(?i:\b(?:regards|thanks|thank you|cheers|best|yours|sincerely|pozdrawiam|"
               rf"dziękuję|dziekuje|z poważaniem|z powazaniem)[,!.]?\s+){_NAME}"),
    re.compile(rf"(?i:\b(?:hello|hi|dear|dzień dobry|dzien dobry|witam)[,]?\s+){_NAME}"),
]


def _luhn_ok(digits: str) -> bool:
    total = 0
    for k, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if k % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban_ok(s: str) -> bool:
    s = s.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _number(m: re.Match) -> str:
    digits = re.sub(r"\D", "", m.group(0))
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return "[CARD]"
    if m.group(0).lstrip().startswith(("+", "0")) and 9 <= len(digits) <= 13:
        return "[PHONE]"
    if len(digits) >= 9 and re.search(r"[ ().-]", m.group(0)):
        return "[PHONE]"
    return "[NUMBER]" if len(digits) >= 6 else m.group(0)


def _name_sub(m: re.Match) -> str:
    whole, name = m.group(0), re.search(rf"{_NAME}$", m.group(0))
    return whole[: name.start()] + "[NAME]" if name else "[NAME]"


def redact(texts) -> pd.Series:
    """Remove personal data from comments: e-mail addresses -> ``[EMAIL]``, IBANs (mod-97 check)
    -> ``[IBAN]``, card numbers (13-19 digits passing the Luhn check) -> ``[CARD]``, phone
    numbers (9-13 digits starting with + or 0, or grouped) -> ``[PHONE]``, other runs of 6+
    digits (account, customer, order numbers) -> ``[NUMBER]``, and names after a cue ("my name
    is", "Mr/Mrs/Ms/Dr", "Pan/Pani", "regards,", "pozdrawiam", "hello", "dzień dobry") ->
    ``[NAME]``. Names without a cue cannot be detected by rules; quotes shown to stakeholders
    should therefore also be sampled, short and reviewed. Returns a Series aligned with texts.
    """
    s = _texts(texts)

    def one(t: str) -> str:
        if not t:
            return t
        t = _EMAIL.sub("[EMAIL]", t)
        t = _IBAN.sub(lambda m: "[IBAN]" if _iban_ok(m.group(0)) else m.group(0), t)
        t = _DIGITS.sub(_number, t)
        for rx in _NAME_CUES:
            t = rx.sub(_name_sub, t)
        return t
    return s.map(one)


# ----------------------------------------------------------------------------------- quotes
def quotes(texts, themes: pd.DataFrame, *, by=None, min_base: int = MIN_BASE, n: int = 3,
           seed: int = 0, max_length: int = 160) -> pd.DataFrame:
    """A few redacted quotes per theme (and per group of ``by``), safe for a stakeholder report.

    A cell (theme x group) is shown only if at least ``min_base`` comments carry the theme;
    smaller cells are left out entirely (listed in ``attrs["suppressed"]`` by theme and group
    label, without counts below the base). Quotes are drawn at random (``seed``) preferring
    comments coded with that theme only, 20-``max_length`` characters long, then passed through
    :func:`redact`; identical quotes are shown once. No ids or row labels are carried: the
    result has a fresh RangeIndex and columns theme, [group], base, quote.
    """
    s = _texts(texts)
    require_frame(themes, "themes")
    if len(themes) != len(s) or not themes.index.equals(s.index):
        raise CXDataError("themes must be aligned with texts (same length and index): pass the "
                          "result of cx.text.code(texts, ...).")
    if not isinstance(min_base, (int, np.integer)) or min_base < 1:
        raise CXDataError(f"min_base must be a positive whole number, got {min_base!r}.")
    groups = pd.Series("All", index=s.index) if by is None else pd.Series(
        np.asarray(by), index=s.index).astype(str)
    rng = np.random.default_rng(seed)
    length = s.str.len()
    single = themes.sum(axis=1) == 1
    rows, suppressed = [], []
    for theme in themes.columns:
        for g in sorted(groups.unique()):
            sel = (themes[theme] == 1) & (groups == g) & (length > 0)
            base = int(sel.sum())
            if base < min_base:
                suppressed.append((theme, g))
                continue
            ok = sel & (length >= 20) & (length <= max_length)
            pool = [s[ok & single].to_numpy(), s[ok & ~single].to_numpy(), s[sel].to_numpy()]
            chosen = []
            for p in pool:
                for t in rng.permutation(p):
                    r = redact([t]).iloc[0]
                    if len(r) > max_length:
                        r = r[: max_length - 1].rsplit(" ", 1)[0] + "…"
                    if r not in chosen:
                        chosen.append(r)
                    if len(chosen) == n:
                        break
                if len(chosen) == n:
                    break
            for q in chosen:
                rows.append({"theme": theme, "group": g, "base": base, "quote": q})
    out = pd.DataFrame(rows, columns=["theme", "group", "base", "quote"])
    if by is None:
        out = out.drop(columns="group")
    out.attrs.update(min_base=min_base, suppressed=suppressed)
    return out
