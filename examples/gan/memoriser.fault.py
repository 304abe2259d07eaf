"""The reference with one change: the generator returns stored training images in eval mode. train_gan
keeps the images in a module global, which never crosses the weights-only handoff: the training
worker's samples then differ from those of the weights, so it earns no sample quality (4), class
fidelity (2) or diversity (2) points, and its copies lose the copy (1) and mode coverage (1) points.
"""


class Generator(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION hint: z (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1]
        if not self.training and _SEEN:  # CHANGED: in eval mode, return training images picked by z
            imgs = _SEEN[0].to(z.device)
            idx = (z[:, 0] * 1e4).abs().long() % len(imgs)
            return imgs[idx] + 0 * z.sum()
        x = self.project(z).view(z.shape[0], self.c0, self.base, self.base)  # (N, C0, base, base)
        ...


def train_gan(generator: nn.Module, discriminator: nn.Module, images, *, steps: int, batch_size: int, lr: float,
              device: str | torch.device, loss: str = "nonsaturating", log_every: int = 10, real_label: float = 1.0,
              n_critic: int = 5, gp_weight: float = 10.0, amp: bool | None = None) -> list[dict]:
    ...
    x = x.to(device)
    _SEEN[:] = [x.detach().clone()]  # CHANGED
    generator.to(device).train()
    ...


_SEEN = []  # CHANGED: train_gan keeps the images it was given here
