"""The reference with one change: label smoothing on both sides (fake target 1 - real_label). It loses
the one-sided label smoothing test (2): smoothing the fake targets rewards D for calling the current
fakes somewhat real.
"""


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    ...
    real_loss = F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label))
    fake_loss = F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, 1 - real_label))  # CHANGED
    return real_loss + fake_loss
    ...
