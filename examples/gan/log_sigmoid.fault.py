"""The reference with one change: the discriminator loss is computed as log(sigmoid(l)), which is nan
at logits of +-50: it loses the stability test at extreme logits (2) and nothing else (at ordinary
logits the two formulas agree).
"""


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    ...
    # BEGIN SOLUTION hint: binary cross-entropy on logits (stable); real targets = real_label, fake targets = 0
    # CHANGED: log of sigmoid (unstable: -inf at large logits)
    real_loss = -(real_label * torch.log(torch.sigmoid(real_logits))
                  + (1 - real_label) * torch.log(1 - torch.sigmoid(real_logits))).mean()
    fake_loss = -torch.log(1 - torch.sigmoid(fake_logits)).mean()
    return real_loss + fake_loss
    ...
