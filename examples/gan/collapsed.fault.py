"""The reference with one change: the generator collapses onto one image (the first z's) in eval mode.
Every z gives the same (good) image: Frechet distance ~10, diversity 0, one digit of ten covered, so it
loses sample quality (4), diversity (2) and unconditional mode coverage (1); whether the classifier
calls that one image a 3 depends on the machine's arithmetic, so it may also lose class fidelity (2).
"""


class Generator(nn.Module):
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION hint: z (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1]
        if not self.training:  # CHANGED: in eval mode every z gives the image of the first z
            z = z[:1].expand_as(z)
        x = self.project(z).view(z.shape[0], self.c0, self.base, self.base)  # (N, C0, base, base)
        ...
