#!/bin/sh
# Regenerates the audio fixtures of loa-node's tests (node/tests/fixtures/).
#
# Every tone is audible from its first to its last sample (no fade, no silence), so a test can
# compare a capture's audible length with the source's duration. Stereo files carry a different
# tone on each side (440 Hz left, 660 Hz right) so channel mapping is exercised.
# Needs sox and ffmpeg (with libmp3lame, libvorbis, libopus). Keep the total small: it is committed.
set -eu
cd "$(dirname "$0")/../node/tests/fixtures"

tone() { # tone RATE CHANNELS SECONDS OUT
    if [ "$2" = 1 ]; then
        sox -n -r "$1" -c 1 -b 16 "$4" synth "$3" sine 440 vol 0.5
    else
        sox -n -r "$1" -c 2 -b 16 "$4" synth "$3" sine 440 sine 660 vol 0.5
    fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Uncompressed WAV at the rates a recording arrives in.
tone 8000 1 2 tone-8000-mono.wav
tone 22050 2 1 tone-22050-stereo.wav
tone 44100 1 1 tone-44100-mono.wav
tone 48000 1 1 tone-48000-mono.wav

# Compressed formats, 2 s each (FLAC 1 s: a lossless tone stays large). ffmpeg writes a LAME
# tag into the MP3, from which the decoder learns the encoder delay and padding to drop.
tone 44100 2 2 "$tmp/44100-stereo.wav"
ffmpeg -v error -y -i "$tmp/44100-stereo.wav" -c:a libmp3lame -b:a 64k tone-44100-stereo.mp3
ffmpeg -v error -y -i "$tmp/44100-stereo.wav" -c:a aac -b:a 48k tone-44100-stereo.m4a
tone 22050 1 2 "$tmp/22050-mono.wav"
ffmpeg -v error -y -i "$tmp/22050-mono.wav" -c:a libvorbis -q:a 1 tone-22050-mono.ogg
# MPEG layer II, as broadcast chains still produce it: the node decodes it with its MP3 decoder.
tone 32000 1 1 "$tmp/32000-mono.wav"
ffmpeg -v error -y -i "$tmp/32000-mono.wav" -c:a mp2 -b:a 64k tone-32000-mono.mp2
tone 48000 2 1 "$tmp/48000-stereo.wav"
ffmpeg -v error -y -i "$tmp/48000-stereo.wav" -c:a flac -compression_level 8 tone-48000-stereo.flac
# Ogg Opus, as the controller sends streams and as operators may upload: libopus through ffmpeg
# (its OpusHead carries the encoder's pre-skip, 312 samples, which the node drops).
ffmpeg -v error -y -i "$tmp/48000-stereo.wav" -c:a libopus -b:a 48k tone-48000-stereo.opus

# Files that must be refused.
: > empty.mp3
# Pseudo-random bytes that are no audio format (a fixed seed, so regenerating with the same awk
# gives the same file).
LC_ALL=C awk 'BEGIN { srand(42); for (i = 0; i < 4096; i++) printf "%c", int(rand() * 256) }' > garbage.bin
# A WAV whose header declares 2 s but whose data stops after about 0.5 s.
head -c 8044 tone-8000-mono.wav > truncated.wav

ls -l
