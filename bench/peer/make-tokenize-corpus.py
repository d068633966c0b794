#!/usr/bin/env python3
"""Write a deterministic ~10 MB English + code + Korean text for tokenizer benchmarks.

The same bytes on every machine and every Python 3 version: the text comes from a
small xorshift64* generator of our own (not `random`), fixed word lists and fixed
code templates. Roughly 50% English prose (with numbers, punctuation, quotes),
30% source code (C and Python, indentation, whitespace runs, operators) and 20%
Korean (Hangul prose with spaces and punctuation), interleaved paragraph by paragraph.

usage: make-tokenize-corpus.py [OUT] [--mb N]   (default OUT .peer/tokenize-corpus.txt, 10 MB)
prints the path, byte count and sha256.
"""
import hashlib
import os
import sys

MASK = (1 << 64) - 1


class Rng:
    def __init__(self, seed):
        self.s = seed & MASK or 1

    def next(self):
        x = self.s
        x ^= x >> 12
        x ^= (x << 25) & MASK
        x ^= x >> 27
        self.s = x
        return (x * 0x2545F4914F6CDD1D) & MASK

    def below(self, n):
        return (self.next() >> 11) % n

    def pick(self, seq):
        return seq[self.below(len(seq))]


EN_WORDS = """the of and to in is was for on that with as by at from it his her they this be are
have had not but which one all were when an their there been has would more will if its into who
time year people way day man thing woman life child world school state family student group country
problem hand part place case week company system program question work government number night point
home water room mother area money story fact month lot right study book eye job word business issue
side kind head house service friend father power hour game line end member law car city community name
president team minute idea kid body information back parent face others level office door health person
art war history party result change morning reason research girl guy moment air teacher force education
quickly slowly carefully simply really always never often sometimes together already finally almost
good new first last long great little own other old big high different small large next early young
important few public bad same able model token memory server request cache kernel thread vector matrix
inference latency throughput bandwidth compiler function pointer buffer network protocol database
""".split()

EN_NAMES = "Alice Bob Carol Dave Eve Mallory Seoul London Paris Tokyo Berlin Linux Python Rust GitHub".split()

KO_WORDS = """오늘은 날씨가 정말 좋아서 공원에 산책하러 갔습니다 한국의 수도는 서울이며 인구는 약 천만 명입니다
우리는 컴퓨터 프로그램을 만들고 모델을 학습시키며 서버를 운영합니다 사람들은 아침에 커피를 마시고
학교에 가거나 회사에 출근합니다 이 문장은 토크나이저 성능을 측정하기 위한 예시입니다 데이터 메모리
속도 처리량 지연 시간 요청 응답 사용자 개발자 연구 결과 문제 해결 방법 질문 대답 가족 친구 선생님
학생 도시 나라 역사 문화 음식 김치 불고기 비빔밥 음악 영화 책 이야기 바다 산 강 하늘 별 달 해
그리고 하지만 그래서 또한 매우 조금 많이 빨리 천천히 항상 가끔 함께 먼저 나중에 다시 새로운 오래된
""".split()
KO_ENDINGS = ["습니다.", "어요.", "다.", "까요?", "네요!", "죠.", "습니까?"]

C_TYPES = ["int", "size_t", "float", "double", "uint8_t", "int64_t", "const char *", "struct node *"]
IDENTS = ["count", "buf", "len", "ptr", "node", "tokens", "n_vocab", "scores", "kv_block", "i", "j",
          "result", "status", "offset", "row", "col", "scale", "sum", "max_len", "ctx"]
FUNCS = ["compute", "encode", "decode", "parse_header", "alloc_block", "free_block", "matmul",
         "softmax", "rms_norm", "sample_top_k", "hash_bytes", "read_file"]


def english_paragraph(r):
    out = []
    for _ in range(3 + r.below(6)):
        n = 6 + r.below(18)
        words = []
        for k in range(n):
            u = r.below(100)
            if u < 4:
                words.append(str(r.below(100000)))
            elif u < 8:
                words.append(r.pick(EN_NAMES))
            elif u < 10:
                words.append(f"{r.below(100)}.{r.below(100):02d}%")
            else:
                words.append(r.pick(EN_WORDS))
            if k < n - 1 and r.below(12) == 0:
                words[-1] += r.pick([",", ";", ":", " -"])
        s = " ".join(words)
        s = s[0].upper() + s[1:]
        if r.below(8) == 0:
            s = '"' + s + '," said ' + r.pick(EN_NAMES)
        out.append(s + r.pick([".", ".", ".", "?", "!", "..."]))
    return " ".join(out) + "\n\n"


def c_function(r):
    f = r.pick(FUNCS) + "_" + str(r.below(50))
    t = r.pick(C_TYPES)
    a, b = r.pick(IDENTS), r.pick(IDENTS)
    lines = [f"static {t} {f}({r.pick(C_TYPES)} {a}, size_t {b})", "{"]
    for _ in range(2 + r.below(8)):
        x, y = r.pick(IDENTS), r.pick(IDENTS)
        u = r.below(5)
        if u == 0:
            lines.append(f"    for (size_t {x} = 0; {x} < {y}; {x}++) {{")
            lines.append(f"        {y}[{x}] += {r.below(256)} * {x};   /* {r.pick(EN_WORDS)} */")
            lines.append("    }")
        elif u == 1:
            lines.append(f"    if ({x} == NULL || {y} >= 0x{r.below(1 << 16):04x})")
            lines.append(f"        return -{1 + r.below(9)};")
        elif u == 2:
            lines.append(f"    {x} = ({x} << {r.below(8)}) ^ ({y} >> {r.below(8)});")
        elif u == 3:
            lines.append(f'    fprintf(stderr, "{r.pick(EN_WORDS)}: %d\\n", {x});')
        else:
            lines.append(f"\t{x} += {y} * {r.below(1000) / 7:.4f}f;\t\t// {r.pick(EN_WORDS)}")
    lines.append(f"    return {r.pick(IDENTS)};")
    lines.append("}")
    return "\n".join(lines) + "\n\n"


def py_function(r):
    f = r.pick(FUNCS)
    a, b = r.pick(IDENTS), r.pick(IDENTS)
    lines = [f"def {f}({a}, {b}={r.below(10)}):", f'    """{r.pick(EN_WORDS).capitalize()} the {r.pick(EN_WORDS)}."""']
    for _ in range(2 + r.below(7)):
        x, y = r.pick(IDENTS), r.pick(IDENTS)
        u = r.below(4)
        if u == 0:
            lines.append(f"    for {x} in range(len({y})):")
            lines.append(f"        {y}[{x}] = {y}[{x}] * {r.below(100)} + {x}")
        elif u == 1:
            lines.append(f"    if {x} is None and {y} != {r.below(100)}:")
            lines.append(f"        raise ValueError(f\"bad {{{x}!r}}: {r.pick(EN_WORDS)}\")")
        elif u == 2:
            lines.append(f"    {x} = {{'{r.pick(EN_WORDS)}': {r.below(999)}, '{r.pick(EN_WORDS)}': [{r.below(9)}, {r.below(9)}]}}")
        else:
            lines.append(f"    {x} += {y}  # {r.pick(EN_WORDS)} {r.pick(EN_WORDS)}")
    lines.append(f"    return {r.pick(IDENTS)}")
    return "\n".join(lines) + "\n\n\n"


def korean_paragraph(r):
    out = []
    for _ in range(2 + r.below(5)):
        n = 4 + r.below(10)
        words = [r.pick(KO_WORDS) for _ in range(n)]
        if r.below(6) == 0:
            words.insert(r.below(n), str(r.below(2030)) + "년")
        out.append(" ".join(words) + r.pick(KO_ENDINGS))
    return " ".join(out) + "\n\n"


def main():
    args = sys.argv[1:]
    mb = 10
    if "--mb" in args:
        i = args.index("--mb")
        mb = float(args[i + 1])
        del args[i:i + 2]
    here = os.path.dirname(os.path.abspath(__file__))
    out = args[0] if args else os.path.join(here, "..", "..", ".peer", "tokenize-corpus.txt")
    out = os.path.normpath(out)
    target = int(mb * 1_000_000)
    r = Rng(0x1F0D_2026)
    parts, size = [], 0
    budget = {"en": 0, "code": 0, "ko": 0}
    share = {"en": 0.5, "code": 0.3, "ko": 0.2}
    while size < target:
        # pick the kind furthest below its share of the bytes so far
        kind = min(share, key=lambda k: budget[k] - share[k] * size)
        if kind == "en":
            s = english_paragraph(r)
        elif kind == "code":
            s = c_function(r) if r.below(2) == 0 else py_function(r)
        else:
            s = korean_paragraph(r)
        b = len(s.encode("utf-8"))
        parts.append(s)
        budget[kind] += b
        size += b
    data = "".join(parts).encode("utf-8")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "wb") as f:
        f.write(data)
    print(f"{out} {len(data)} bytes sha256 {hashlib.sha256(data).hexdigest()}")
    print("bytes by kind: " + ", ".join(f"{k} {v}" for k, v in budget.items()))


if __name__ == "__main__":
    main()
