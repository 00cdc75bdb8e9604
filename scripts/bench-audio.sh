#!/usr/bin/env bash
# Benchmarks the node's audio pipeline against reference tools, on the same files:
#
#   1. Decode + resample. Each file is decoded and resampled to 48 kHz stereo, the output
#      thrown away: `loa-node play FILE --sink null` (symphonia → rubato → the null sink, the
#      node's own pipeline) against `ffmpeg -i FILE -ar 48000 -ac 2 -f null -`.
#   2. Playback. `loa-node play FILE --device loa_bench` against `mpg123 -o alsa -a loa_bench`
#      on the MP3 files, both through the real ALSA library to the same pcm: `plug` (48 kHz,
#      stereo, S16_LE) → `null`. Both open the pcm at the file's own rate, which `plug` takes, so
#      ALSA converts to 48 kHz for both alike. ALSA's `null` has no clock, so both play as fast
#      as they can: this is the CPU a whole file costs, not the load while it plays in real time.
#
# For each it reports user+sys CPU seconds of the process (process start included, for both
# tools), the median of --runs runs, and loa's time divided by the other tool's; playback also
# reports peak memory (max RSS). The tools run in turn within each run, so both see the same
# load on the machine. The test files (60 s and 300 s of tone and noise by default, in the
# formats a commune uploads) are made with ffmpeg in a temporary folder and deleted after.
#
# Needs: cargo (it builds loa-node in release mode), ffmpeg with libmp3lame and libvorbis,
# mpg123, GNU time (/usr/bin/time), and to build, pkg-config and libasound2-dev. It installs
# nothing: it says what is missing. On Debian: apt install ffmpeg mpg123 time.
#
# Usage: scripts/bench-audio.sh [--runs N] [--durations "60 300"] [--write FILE]
# The Markdown tables go to stdout, and also to FILE with --write; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
durations="60 300"
write=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --durations) durations=$2; shift 2 ;;
        --write) write=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$runs" in ''|*[!0-9]*|0) echo "--runs takes a whole number above 0" >&2; exit 2 ;; esac

missing=()
for tool in cargo ffmpeg mpg123; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -x /usr/bin/time ] || missing+=("/usr/bin/time (Debian package: time)")
if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]}; this script installs nothing, please install them" >&2
    exit 1
fi
encoders=$(ffmpeg -hide_banner -encoders 2>/dev/null)
for encoder in libmp3lame libvorbis; do
    if ! grep -qw "$encoder" <<< "$encoders"; then
        echo "this ffmpeg has no $encoder encoder, needed to make the test files" >&2
        exit 1
    fi
done

say() { echo "bench-audio: $*" >&2; }

say "building loa-node (release)"
cargo build --release --quiet -p loa-node
loa="${CARGO_TARGET_DIR:-target}/release/loa-node"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
media="$tmp/media"
results="$tmp/results"
mkdir -p "$media" "$results" "$tmp/home"

# The ALSA pcm both players write to. A fixed 48 kHz stereo S16_LE, like a board's dmix:
# the program (or ALSA's plug, inside the program) converts to it. HOME points the ALSA
# library at this file; the `hint` makes the pcm visible to cpal's device list.
pcm=loa_bench
cat > "$tmp/home/.asoundrc" <<EOF
pcm.$pcm {
    type plug
    slave {
        pcm "null"
        rate 48000
        channels 2
        format S16_LE
    }
    hint {
        show on
        description "loa benchmark: 48 kHz stereo into ALSA's clockless null"
    }
}
EOF

# --- Test files -------------------------------------------------------------------------------

# Every file is listed in $media/list as "name|description|seconds".
: > "$media/list"

# master SECONDS OUT: 44.1 kHz stereo WAV, a 220 Hz tone under pink noise (different on each
# side), its level swung 4 times a second like syllables. Seeded: the same file every time.
master() {
    ffmpeg -nostdin -v error -y \
        -f lavfi -i "sine=frequency=220:sample_rate=44100:duration=$1" \
        -f lavfi -i "anoisesrc=color=pink:amplitude=0.4:sample_rate=44100:duration=$1:seed=1" \
        -f lavfi -i "anoisesrc=color=pink:amplitude=0.4:sample_rate=44100:duration=$1:seed=2" \
        -filter_complex "[1][2]amerge=inputs=2[noise];[0]pan=stereo|c0=c0|c1=c0[tone];[tone][noise]amix=inputs=2,tremolo=f=4:d=0.6,volume=3[out]" \
        -map "[out]" -c:a pcm_s16le "$2"
}

# encode SECONDS NAME DESCRIPTION FFMPEG-OUTPUT-OPTIONS...
encode() {
    local seconds=$1 name=$2 description=$3
    shift 3
    ffmpeg -nostdin -v error -y -i "$tmp/master-$seconds.wav" "$@" "$media/$name"
    echo "$name|$description|$seconds" >> "$media/list"
}

for d in $durations; do
    say "making the ${d} s test files"
    master "$d" "$tmp/master-$d.wav"
    encode "$d" "mp3-44k-stereo-$d.mp3" "MP3 44.1 kHz stereo 128k" -c:a libmp3lame -b:a 128k
    encode "$d" "mp3-22k-mono-$d.mp3" "MP3 22.05 kHz mono 48k" -ar 22050 -ac 1 -c:a libmp3lame -b:a 48k
    encode "$d" "aac-44k-stereo-$d.m4a" "AAC/M4A 44.1 kHz stereo 96k" -c:a aac -b:a 96k
    encode "$d" "vorbis-44k-stereo-$d.ogg" "Vorbis 44.1 kHz stereo q4" -c:a libvorbis -q:a 4
    encode "$d" "flac-44k-stereo-$d.flac" "FLAC 44.1 kHz stereo" -c:a flac
    encode "$d" "wav-8k-mono-$d.wav" "WAV 8 kHz mono" -ar 8000 -ac 1 -c:a pcm_s16le
    rm "$tmp/master-$d.wav"
done
# One second that needs no resampling: what starting the process costs each tool.
ffmpeg -nostdin -v error -y -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=1" \
    -ac 2 -c:a pcm_s16le "$media/startup-1.wav"
echo "startup-1.wav|start-up only: WAV 48 kHz stereo|1" >> "$media/list"

# --- Measuring --------------------------------------------------------------------------------

# measure KEY CMD...: runs CMD once, appends its user+sys CPU seconds to $results/KEY.cpu and
# its peak memory (KiB) to $results/KEY.rss. The CPU comes from bash's `times` in the command
# substitution's subshell (its children are CMD and /usr/bin/time: milliseconds, where GNU
# time prints hundredths); the memory from GNU time. Stops with CMD's stderr if it fails.
measure() {
    local key=$1
    shift
    local clock
    if ! clock=$(
        HOME="$tmp/home" /usr/bin/time -f '%M' -o "$tmp/rss" "$@" \
            < /dev/null > "$tmp/stdout" 2> "$tmp/stderr" || exit 1
        times
    ); then
        say "failed: $*"
        cat "$tmp/stderr" >&2
        exit 1
    fi
    # `times` prints the shell's own time, then its children's: "0m1.234s 0m0.056s".
    echo "$clock" | tail -n 1 | awk '{
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2]
    }' >> "$results/$key.cpu"
    tail -n 1 "$tmp/rss" >> "$results/$key.rss"
}

# check_played SECONDS: loa-node printed "played S s"; S must be SECONDS, or the benchmark did
# not decode the whole file. (Frames would not do: a device that takes the file's rate plays it
# at that rate, the null sink at 48 kHz.)
check_played() {
    local played
    played=$(sed -n 's/^played \([0-9.]*\) s$/\1/p' "$tmp/stdout")
    if [ -z "$played" ] || awk -v p="$played" -v s="$1" 'BEGIN { exit !(p < s * 0.99) }'; then
        say "loa-node played ${played:-nothing} s of a $1 s file"
        exit 1
    fi
}

median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ratio A B: A / B to two decimals, or "n/a" when B is nothing or less (a net time lost in noise).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b < 0.0005) print "n/a"; else printf "%.2f\n", a / b }'; }

secs() { printf '%.3f' "$1"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f\n", k / 1024 }'; }

for run in $(seq "$runs"); do
    say "run $run of $runs: decode + resample"
    while IFS='|' read -r name _ seconds; do
        # Alternate who goes first, so neither always finds the file in a warmer cache.
        if [ $((run % 2)) -eq 1 ]; then
            measure "decode-loa-$name" "$loa" play "$media/$name" --sink null
            check_played "$seconds"
            measure "decode-ffmpeg-$name" ffmpeg -nostdin -v error -i "$media/$name" -ar 48000 -ac 2 -f null -
        else
            measure "decode-ffmpeg-$name" ffmpeg -nostdin -v error -i "$media/$name" -ar 48000 -ac 2 -f null -
            measure "decode-loa-$name" "$loa" play "$media/$name" --sink null
            check_played "$seconds"
        fi
    done < "$media/list"
    say "run $run of $runs: playback through ALSA"
    while IFS='|' read -r name _ seconds; do
        case "$name" in *.mp3) ;; *) continue ;; esac
        if [ $((run % 2)) -eq 1 ]; then
            measure "play-loa-$name" "$loa" play "$media/$name" --device "$pcm"
            check_played "$seconds"
            measure "play-mpg123-$name" mpg123 -q -o alsa -a "$pcm" "$media/$name"
        else
            measure "play-mpg123-$name" mpg123 -q -o alsa -a "$pcm" "$media/$name"
            measure "play-loa-$name" "$loa" play "$media/$name" --device "$pcm"
            check_played "$seconds"
        fi
    done < "$media/list"
done

# --- Report -----------------------------------------------------------------------------------

# net A A0 B B0: (A - A0) / (B - B0), each tool's time with its start-up taken off.
net() { ratio "$(awk -v a="$1" -v z="$2" 'BEGIN { print a - z }')" "$(awk -v b="$3" -v z="$4" 'BEGIN { print b - z }')"; }

report() {
    local loa0 ffmpeg0
    loa0=$(median "$results/decode-loa-startup-1.wav.cpu")
    ffmpeg0=$(median "$results/decode-ffmpeg-startup-1.wav.cpu")
    echo "Decode and resample to 48 kHz stereo, output discarded. CPU = user + sys seconds of"
    echo "the whole process, median of $runs runs. \"net\" takes each tool's start-up (the last"
    echo "row) off both before dividing."
    echo
    echo "| file | length | loa CPU s | ffmpeg CPU s | loa / ffmpeg | loa / ffmpeg, net | loa × real time |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    while IFS='|' read -r name description seconds; do
        local l f speed net_ratio
        l=$(median "$results/decode-loa-$name.cpu")
        f=$(median "$results/decode-ffmpeg-$name.cpu")
        speed=$(awk -v s="$seconds" -v c="$l" 'BEGIN { if (c < 0.0005) print "n/a"; else printf "%.0f\n", s / c }')
        net_ratio=$(net "$l" "$loa0" "$f" "$ffmpeg0")
        if [ "$name" = startup-1.wav ]; then speed="—"; net_ratio="—"; fi
        echo "| $description | $seconds s | $(secs "$l") | $(secs "$f") | $(ratio "$l" "$f") | $net_ratio | $speed |"
    done < "$media/list"
    echo
    echo "Playback of the MP3 files through ALSA (\`plug\` at 48 kHz stereo S16_LE → \`null\`, no"
    echo "clock: unpaced). CPU = user + sys seconds, peak memory = max RSS; medians of $runs runs."
    echo
    echo "| file | length | loa CPU s | mpg123 CPU s | loa / mpg123 | loa peak MiB | mpg123 peak MiB |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    while IFS='|' read -r name description seconds; do
        case "$name" in *.mp3) ;; *) continue ;; esac
        local l m lr mr
        l=$(median "$results/play-loa-$name.cpu")
        m=$(median "$results/play-mpg123-$name.cpu")
        lr=$(median "$results/play-loa-$name.rss")
        mr=$(median "$results/play-mpg123-$name.rss")
        echo "| $description | $seconds s | $(secs "$l") | $(secs "$m") | $(ratio "$l" "$m") | $(mib "$lr") | $(mib "$mr") |"
    done < "$media/list"
}

report > "$tmp/report.md"
cat "$tmp/report.md"
if [ -n "$write" ]; then
    cp "$tmp/report.md" "$write"
    say "wrote $write"
fi
