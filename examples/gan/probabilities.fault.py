"""The reference with one change: the discriminator returns sigmoid probabilities instead of logits.
It loses the logits check (1) and the WGAN-GP critic test (2): a critic whose scores lie in [0, 1]
cannot score real images 0.5 above fakes (0.28-0.38 in 150-200 steps). Its loss functions are right,
so the minimax test (judged on the losses' slopes since issue #19) passes.
"""


class Discriminator(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION hint: images (N, C, H, W) -> logits (N,), no sigmoid
        return torch.sigmoid(self.head(self.features(x).flatten(1)).squeeze(1))  # CHANGED: probabilities
        # END SOLUTION
