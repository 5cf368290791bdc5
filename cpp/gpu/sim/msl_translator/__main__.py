"""Command line used by the build (cmake/metal_sim.cmake): translate one .metal file into C++."""
import argparse
import sys

from . import TranslationError, find_clang, half_compile_flags, racecheck_compile_flags, translate_file


def main():
    if sys.argv[1:] == ["--find-clang"]:  # for the build: the clang++ the address-space check can use
        clang = find_clang()
        print(clang or "")
        return 0 if clang else 1
    if sys.argv[1:2] == ["--racecheck-flags"] and len(sys.argv) == 3:  # for the build: `--racecheck-flags CXX`
        print(";".join(racecheck_compile_flags(sys.argv[2])))
        return 0
    if sys.argv[1:2] == ["--half-flags"] and len(sys.argv) == 3:  # for the build: `--half-flags CXX`
        print(";".join(half_compile_flags(sys.argv[2])))
        return 0
    parser = argparse.ArgumentParser(description="Translate a .metal file into C++ for metal-sim.")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--table", required=True, help="name of the KernelTable the output defines")
    parser.add_argument("--cxx", required=True, help="C++ compiler used as the preprocessor")
    parser.add_argument("--clang", help="clang++ for the address-space check (omitted: no check)")
    parser.add_argument("-I", dest="includes", action="append", default=[])
    parser.add_argument("-D", dest="defines", action="append", default=[])
    parser.add_argument("--depfile", help="write the .metal file's header dependencies here (make syntax)")
    args = parser.parse_args()
    try:
        text = translate_file(args.input, args.table, output_path=args.output, include_dirs=args.includes,
                              defines=args.defines, cxx=args.cxx, clang=args.clang, depfile=args.depfile)
    except TranslationError as e:
        for v in e.violations:
            print(f"{v.file}:{v.line}: error: {v.rule}: {v.message}", file=sys.stderr)
        return 1
    with open(args.output, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
