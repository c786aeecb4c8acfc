"""What each supported recipe accepts: one table, read by the POC definition checks, the plan and the data gate.

Sources (Amazon Personalize developer guide unless a botocore shape is named):
- batch input: "Preparing input data for batch recommendations" - USER_PERSONALIZATION recipes and
  Popularity-Count take `{"userId"}` lines, RELATED_ITEMS `{"itemId"}`, PERSONALIZED_RANKING
  `{"userId", "itemList"}`; "You can't get batch recommendations with the Trending-Now recipe".
- item exploration: botocore `CampaignConfig.itemExplorationConfig` ("only if your solution uses the
  User-Personalization recipe"); "Use case and recipe features": with User-Personalization-v2
  "Amazon Personalize handles exploration configuration for you".
- training mode UPDATE: botocore `CreateSolutionVersion.trainingMode` ("only ... with the
  User-Personalization recipe or the legacy HRNN-Coldstart recipe").
- HPO: "Hyperparameters and HPO" - User-Personalization-v2 and Personalized-Ranking-v2 run HPO themselves
  (with automatic training) and take no performHPO; Popularity-Count and Trending-Now have no tunable
  hyperparameters (stricter reading: no HPO); the recipe pages of User-Personalization, Personalized-Ranking,
  SIMS and Similar-Items list HPO-tunable hyperparameters.
- CurrentItem filters: "Guidelines and requirements" (filters) - only for recipes that generate related items.
- user segmentation: "USER_SEGMENTATION recipes" (user-segmentation-recipes.html) - Item-Affinity and
  Item-Attribute-Affinity train on the Interactions and Items datasets and serve only batch segment jobs
  (no campaigns, no batch inference); their input is one `{"itemId"}` (Item-Affinity) or one
  `{"itemAttributes"}` query (Item-Attribute-Affinity) per line ("Preparing input data for user segments").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RecipeType = Literal[
    "USER_PERSONALIZATION", "RELATED_ITEMS", "PERSONALIZED_RANKING", "POPULAR_ITEMS", "USER_SEGMENTATION"
]
BatchInputKind = Literal["users", "items", "user_items"]
# The JSON key(s) each line of a batch input file carries, as the sample generator names them.
BatchInput = Literal["userId", "itemId", "userId+itemList"]
_KINDS: dict[BatchInput, BatchInputKind] = {"userId": "users", "itemId": "items", "userId+itemList": "user_items"}
BATCH_INPUT_KEYS: dict[BatchInputKind, tuple[str, ...]] = {
    "users": ("userId",),
    "items": ("itemId",),
    "user_items": ("userId", "itemList"),
}


@dataclass(frozen=True)
class Recipe:
    recipe_type: RecipeType
    batch_input: BatchInput | None  # None: the recipe has no batch inference
    required_datasets: tuple[str, ...] = ("interactions",)
    item_exploration: bool = False  # campaignConfig.itemExplorationConfig
    update_training: bool = False  # trainingMode UPDATE
    hpo: bool = False  # performHPO

    @property
    def related_items(self) -> bool:
        return self.recipe_type == "RELATED_ITEMS"

    @property
    def user_segmentation(self) -> bool:
        """Serves batch segment jobs only (no campaign, no batch inference)."""
        return self.recipe_type == "USER_SEGMENTATION"


RECIPES: dict[str, Recipe] = {
    "aws-user-personalization": Recipe(
        "USER_PERSONALIZATION", "userId", item_exploration=True, update_training=True, hpo=True
    ),
    "aws-user-personalization-v2": Recipe("USER_PERSONALIZATION", "userId"),
    "aws-personalized-ranking": Recipe("PERSONALIZED_RANKING", "userId+itemList", hpo=True),
    "aws-personalized-ranking-v2": Recipe("PERSONALIZED_RANKING", "userId+itemList"),
    "aws-sims": Recipe("RELATED_ITEMS", "itemId", hpo=True),
    "aws-similar-items": Recipe("RELATED_ITEMS", "itemId", required_datasets=("interactions", "items"), hpo=True),
    "aws-popularity-count": Recipe("USER_PERSONALIZATION", "userId"),
    "aws-trending-now": Recipe("POPULAR_ITEMS", None),
    "aws-item-affinity": Recipe("USER_SEGMENTATION", None, required_datasets=("interactions", "items")),
    "aws-item-attribute-affinity": Recipe("USER_SEGMENTATION", None, required_datasets=("interactions", "items")),
}
BASELINE_RECIPE = "aws-popularity-count"


def recipe_name(recipe: str) -> str:
    """`aws-sims` for both `aws-sims` and `arn:aws:personalize:::recipe/aws-sims`."""
    return recipe.rsplit("/", 1)[-1]


def batch_input_kind(recipe: str) -> BatchInputKind | None:
    """What each line of a batch inference input file holds for this recipe (name or ARN):
    "users" ({"userId"}), "items" ({"itemId"}), "user_items" ({"userId", "itemList"}), or None when the
    recipe cannot run batch inference. KeyError for a recipe this tool does not support."""
    batch_input = RECIPES[recipe_name(recipe)].batch_input
    return None if batch_input is None else _KINDS[batch_input]
