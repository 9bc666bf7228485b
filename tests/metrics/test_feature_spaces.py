"""Feature spaces of the distances (issue 17): Inception-v3 offline and exact, and the domain
encoder trained on real slices, saved and reused so two evaluations share one space."""

from __future__ import annotations

import socket
import warnings

import numpy as np
import pytest
from scipy import linalg

from blobs import blob_dataset
from brainsynth.data.dataset import load_prepared
from brainsynth.errors import BrainsynthError
from brainsynth.metrics import domain, features, frechet
from brainsynth.metrics.evaluate import EvalConfig, evaluate, real_image_labels


def pytorch_fid_frechet(mu1, sigma1, mu2, sigma2, eps=1e-6) -> float:
    """pytorch-fid's calculate_frechet_distance (Heusel et al. 2017), as published."""
    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular with fewer images than features, as in use
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


@pytest.fixture(scope="module")
def inception_path():
    path, note = features.inception_model_path()
    if path is None:
        pytest.skip(note)  # `make install` installs it; a bare pip install -e . may not
    return path


def test_inception_loads_offline_and_its_fd_matches_the_reference_formula(
    inception_path, monkeypatch
):
    def no_network(*args, **kwargs):
        raise AssertionError("Inception features must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    rng = np.random.default_rng(0)
    real = rng.random((12, 1, 16, 16)).astype(np.float32)
    fake = (rng.random((12, 1, 16, 16)) ** 2).astype(np.float32)
    a = features.inception_features(real, inception_path)
    b = features.inception_features(fake, inception_path)
    assert a.shape == b.shape == (12, 2048) and np.isfinite(a).all()
    # The reference's scipy sqrtm of a 2048x2048 product takes ~20 s on one thread; the
    # formula does not depend on the dimension, so both run on the first 512 features.
    a, b = a[:, :512], b[:, :512]
    mu1, s1 = a.mean(axis=0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(axis=0), np.cov(b, rowvar=False)
    reference = pytorch_fid_frechet(mu1, s1, mu2, s2)
    assert frechet.fid_from_features(a, b) == pytest.approx(reference, rel=1e-6)
    assert reference > 0


@pytest.fixture(scope="module")
def blobs_set(tmp_path_factory):
    root = blob_dataset(tmp_path_factory.mktemp("dom") / "p", patients=12, slices=8, size=16)
    prepared = load_prepared(root)
    return prepared, prepared.image_set("concat")


def test_domain_encoder_is_saved_without_pickle_and_reused(blobs_set, tmp_path):
    prepared, real = blobs_set
    labels = real_image_labels(prepared, real)
    assert set(labels) == {"position"}  # blob slices have no tumour counts
    targets = domain.domain_targets(real.channels, labels)
    assert set(targets) == {"sequence", "position"}
    images = real.float_images()
    model, info = domain.train_domain_encoder(images, real.patients, targets, max_epochs=2)
    assert info["tasks"] == ["position", "rotation", "sequence"]
    path = domain.save_encoder(model, tmp_path / "enc.pt", 16, info)
    again = domain.load_encoder(path, 16)  # weights_only: no pickled module can be in it
    assert np.allclose(domain.encode(model, images[:10]), domain.encode(again, images[:10]))
    with pytest.raises(BrainsynthError, match="trained on 16px images"):
        domain.load_encoder(path, 32)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(BrainsynthError, match="cannot read domain encoder"):
        domain.load_encoder(tmp_path / "bad.pt", 16)


def test_two_models_are_compared_in_one_domain_space(blobs_set, tmp_path):
    prepared, real = blobs_set
    rng = np.random.default_rng(0)
    good = real.float_images()[rng.permutation(len(real))[:96]]
    bad = np.clip(good + rng.normal(0, 0.3, good.shape), 0, 1).astype(np.float32)
    config = EvalConfig(metrics=["distances"], features=["domain"], n_bootstrap=20,
                        kid_subset_size=50, kid_subsets=5, domain_epochs=3)  # fmt: skip
    labels = real_image_labels(prepared, real)
    first = evaluate(real, good, config, tmp_path / "a", False, real_labels=labels)
    encoder = first["domain_encoder"]
    assert encoder.endswith("domain_encoder.pt") and first["fid"] is None
    shared = EvalConfig(**{**config.__dict__, "domain_encoder": encoder})
    second = evaluate(real, bad, shared, tmp_path / "b", False)
    again = evaluate(real, good, shared, tmp_path / "c", False)
    assert second["domain_encoder_info"] == {"trained": "loaded"}
    assert again["fid_domain"] == pytest.approx(first["fid_domain"], rel=1e-9)  # one space
    # Heavy noise on every image moves it far from the real slices; real slices themselves
    # only by sampling: the noisy set's distance exceeds the other's whole interval.
    assert second["fid_domain"] > again["fid_domain_ci95"][1]
    with pytest.raises(BrainsynthError, match="unknown feature spaces"):
        evaluate(real, good, EvalConfig(features=["pixels"]), progress=False)
