"""minicnn's labs: one module per course document in ``../shared/seeds/``.

Each lab module is a percent-format script (``# %%`` cells) that follows its
document's exercises in order; run it with ``minicnn lab run NAME`` (or as a
plain script, or open it as a notebook with jupytext). The shared machinery
(profiles, resumable runs, seeds, reports) lives in ``labs._runner``; the
networks every lab trains in ``labs.architectures``; the list of labs, their
exercises and profile settings in ``labs.catalog``.
"""
