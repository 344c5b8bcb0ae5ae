"""Per-row seeded sampling: a row's draws depend on its seed and step only, and follow softmax."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nightcast.sampling import gumbel_noise, normal_noise, row_keys, sample_rows  # noqa: E402


def test_a_rows_noise_is_its_own_whatever_the_batch():
    alone = gumbel_noise(row_keys([42], "cpu"), 3, (1, 4, 50))
    batch = gumbel_noise(row_keys([7, 42, 42, 9], "cpu"), 3, (4, 4, 50))
    assert torch.equal(batch[1], alone[0]) and torch.equal(batch[2], alone[0])
    assert not torch.equal(batch[0], batch[1])
    assert not torch.equal(gumbel_noise(row_keys([42], "cpu"), 4, (1, 4, 50)), alone)  # another step


@pytest.mark.parametrize("probs", [[0.5, 0.3, 0.15, 0.05], [0.97, 0.01, 0.01, 0.01], [0.25] * 4])
def test_draws_follow_the_softmax(probs):
    """Over 20,000 seeds a token comes up in proportion to its probability (within 4 standard errors)."""
    draws = 20_000
    scores = torch.log(torch.tensor(probs)).expand(draws, -1)
    counts = np.bincount(sample_rows(scores, row_keys(range(draws), "cpu"), 0).numpy(), minlength=4)
    p = np.array(probs)
    assert np.all(np.abs(counts / draws - p) <= 4 * np.sqrt(p * (1 - p) / draws) + 1e-9)


def test_filtered_tokens_never_come_up():
    scores = torch.tensor([[0.0, float("-inf"), 1.0, float("-inf")]]).expand(5_000, -1)
    drawn = set(sample_rows(scores, row_keys(range(5_000), "cpu"), 2).tolist())
    assert drawn == {0, 2}


@pytest.mark.parametrize("short", [1, 7, 15, 16, 17, 40])
def test_a_rows_normal_noise_is_the_prefix_of_a_longer_draw_in_any_batch(short):
    """Whatever the draw's length (torch.randn changes algorithm at 16 values) and the batch."""
    alone = normal_noise(row_keys([42], "cpu"), 2, (1, 3, short))
    batch = normal_noise(row_keys([7, 42], "cpu"), 2, (2, 3, 97))
    assert alone.shape == (1, 3, short) and torch.equal(batch[1, :, :short], alone[0])
    assert not torch.equal(normal_noise(row_keys([42], "cpu"), 3, (1, 3, short)), alone)  # another draw


def test_normal_noise_is_standard_normal():
    """200,000 values: mean 0, variance 1, and the normal's quantiles (within sampling error)."""
    values = normal_noise(row_keys(range(100), "cpu"), 1, (100, 20, 100)).flatten().double()
    assert abs(values.mean().item()) < 0.01 and abs(values.std().item() - 1) < 0.01
    quantiles = torch.quantile(values[:100_000], torch.tensor([0.025, 0.16, 0.5, 0.84, 0.975], dtype=torch.double))
    assert torch.allclose(quantiles, torch.tensor([-1.96, -0.994, 0.0, 0.994, 1.96], dtype=torch.double), atol=0.03)
